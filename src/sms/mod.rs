//! Texts. Pure parts only: what an inbound text says ([`words`]) and a text filled from
//! its lead ([`template`]). The routes take inbound texts (`routes/sms.rs`),
//! `dispatch/replies.rs` acts on them, and `dispatch/texts` sends the follow-ups.

pub mod template;
pub mod words;

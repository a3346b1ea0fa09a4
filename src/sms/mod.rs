//! Texts. Pure parts only: what an inbound text says ([`words`]). The routes take inbound
//! texts (`routes/sms.rs`), and `dispatch/replies.rs` acts on them.

pub mod words;

//! Domain types that can only be built through `parse`: std, serde and thiserror only
//! (plus the phone-number metadata behind [`phone::PhoneNumber`]).

pub mod lead;
pub mod phone;

pub use lead::{Lead, LeadFieldNames};
pub use phone::PhoneNumber;

//! Domain types that can only be built through `parse`: std, serde and thiserror only
//! (plus the phone-number metadata behind [`phone::PhoneNumber`]).

pub mod phone;

pub use phone::PhoneNumber;

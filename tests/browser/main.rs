//! The ops console driven in a real browser (headless chromium) against the real server
//! with a mock Bland: what an operator does and sees. `.ci/run` installs chromium and
//! chromium-driver; without them (and not on CI) the tests print one line and pass.

#![forbid(unsafe_code)]

mod driver;
mod flows;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod layout;
mod pages;
mod setup;
mod tour;

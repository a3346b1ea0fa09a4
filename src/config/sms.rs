//! `[sms]`: texts. What inbound texts are read for:
//!
//! | key | environment | default |
//! |---|---|---|
//! | `opt_out_words` | `SMS_OPT_OUT_WORDS` | the CTIA set: `STOP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT,REVOKE,OPTOUT` |
//! | `callback_words` | `SMS_CALLBACK_WORDS` | `YES,CALL ME,CALL` |
//!
//! Words and phrases, comma-separated (a TOML array in the file), matched as whole words
//! in any case ([`crate::sms::words`]).

use super::{parse_list, ConfigError, Settings};

/// The CTIA opt-out words, and the two carriers also honour.
pub const OPT_OUT_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
/// Replies that ask for a call.
pub const CALLBACK_WORDS: [&str; 3] = ["YES", "CALL ME", "CALL"];

#[derive(Debug, Clone, PartialEq)]
pub struct SmsSettings {
    pub opt_out_words: Vec<String>,
    pub callback_words: Vec<String>,
}

impl Default for SmsSettings {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Self {
            opt_out_words: own(&OPT_OUT_WORDS),
            callback_words: own(&CALLBACK_WORDS),
        }
    }
}

impl Settings {
    pub(super) fn read_sms<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        if let Some((v, origin)) = get("SMS_OPT_OUT_WORDS") {
            self.sms.opt_out_words = parse_list(v);
            if self.sms.opt_out_words.is_empty() {
                return Err(ConfigError::new(
                    origin,
                    "name at least one opt-out word: texts must be able to opt out",
                ));
            }
        }
        if let Some((v, _)) = get("SMS_CALLBACK_WORDS") {
            self.sms.callback_words = parse_list(v);
        }
        Ok(())
    }
}

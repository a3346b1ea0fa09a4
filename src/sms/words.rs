//! What an inbound text asks for, by whole words, case-insensitively: an opt-out word
//! (`STOP`, … — the CTIA set by default) or a callback word or phrase (`YES`, `CALL ME`).
//! A word is a run of letters and digits, so nothing is matched inside another word
//! (`WEEKEND` is not `END`, `STOPPED` is not `STOP`) and punctuation does not hide one
//! (`Stop!`, `stop.`). A phrase matches its words in a row. An opt-out wins over a
//! callback in the same text ("yes, stop"): when in doubt, do not call. The words are the
//! settings' (`crate::config::sms`).

/// What a text asks for; the word or phrase that said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    OptOut(String),
    Callback(String),
    Nothing,
}

impl Asked {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OptOut(_) => "opt_out",
            Self::Callback(_) => "callback",
            Self::Nothing => "other",
        }
    }

    pub fn word(&self) -> Option<&str> {
        match self {
            Self::OptOut(w) | Self::Callback(w) => Some(w),
            Self::Nothing => None,
        }
    }
}

/// The text's words, upper-cased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect()
}

/// The first of `phrases` found in `text` as whole words in a row.
fn find<'a>(text: &[String], phrases: &'a [String]) -> Option<&'a str> {
    phrases.iter().map(String::as_str).find(|p| {
        let p = words(p);
        !p.is_empty() && text.windows(p.len()).any(|w| w == p.as_slice())
    })
}

/// What `body` asks for, given the configured words.
pub fn classify(body: &str, opt_out: &[String], callback: &[String]) -> Asked {
    let text = words(body);
    if let Some(w) = find(&text, opt_out) {
        return Asked::OptOut(w.to_uppercase());
    }
    if let Some(w) = find(&text, callback) {
        return Asked::Callback(w.to_uppercase());
    }
    Asked::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sms::{CALLBACK_WORDS, OPT_OUT_WORDS};

    fn own(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn ask(body: &str) -> Asked {
        classify(body, &own(&OPT_OUT_WORDS), &own(&CALLBACK_WORDS))
    }

    #[test]
    fn opt_out_words_count_only_as_whole_words_in_any_case() {
        assert_eq!(ask("STOP"), Asked::OptOut("STOP".into()));
        assert_eq!(ask("please stop texting me!"), Asked::OptOut("STOP".into()));
        assert_eq!(ask("Stop."), Asked::OptOut("STOP".into()));
        assert_eq!(ask("end"), Asked::OptOut("END".into()));
        assert_eq!(ask("opt-out"), Asked::Nothing, "two words, not OPTOUT");
        assert_eq!(ask("optout"), Asked::OptOut("OPTOUT".into()));
        for inside in [
            "see you this weekend",
            "I'll send it",
            "my friend",
            "unstoppable",
            "it stopped",
        ] {
            assert_eq!(ask(inside), Asked::Nothing, "{inside}");
        }
    }

    #[test]
    fn callbacks_by_word_or_phrase_and_an_opt_out_wins() {
        assert_eq!(ask("Yes please"), Asked::Callback("YES".into()));
        assert_eq!(
            ask("can you call me tomorrow"),
            Asked::Callback("CALL ME".into())
        );
        assert_eq!(ask("yes, but stop texting"), Asked::OptOut("STOP".into()));
        assert_eq!(ask("yesterday was fine"), Asked::Nothing);
        assert_eq!(ask("recall"), Asked::Nothing);
        let custom = classify("Llámame", &own(&["BASTA"]), &own(&["llámame"]));
        assert_eq!(custom, Asked::Callback("LLÁMAME".into()));
    }
}

//! Content screening: blocked words and phrases matched case-insensitively on word
//! boundaries against the text a call would carry. One Aho-Corasick automaton is built
//! when a list changes. Text and phrases are normalised the same way — lower-cased, every
//! run of characters that are not letters or digits turned into one space — so "prize"
//! matches "You won a PRIZE!" but not "enterprise", "sex" does not match "Essex", and
//! "social security administration" matches "Social-Security  Administration".

use aho_corasick::{AhoCorasick, MatchKind};

/// Lower-cases and turns every run of non-alphanumeric characters into one space, with a
/// space at both ends so that word boundaries are spaces.
pub fn normalise(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len() + 2);
    out.push(' ');
    let mut gap = true;
    if text.is_ascii() {
        // Byte at a time: the common case, and several times faster than decoding chars.
        let mut bytes = std::mem::take(out).into_bytes();
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                bytes.push(b.to_ascii_lowercase());
                gap = false;
            } else if !gap {
                bytes.push(b' ');
                gap = true;
            }
        }
        if !gap {
            bytes.push(b' ');
        }
        // Only ASCII bytes were pushed.
        *out = String::from_utf8(bytes).unwrap_or_default();
        return;
    }
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
                gap = false;
            } else if !gap {
                out.push(' ');
                gap = true;
            }
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            gap = false;
        } else if !gap {
            out.push(' ');
            gap = true;
        }
    }
    if !gap {
        out.push(' ');
    }
}

/// A compiled list of blocked terms.
pub struct Screen {
    automaton: Option<AhoCorasick>,
    /// The terms as configured, indexed like the automaton's patterns.
    terms: Vec<String>,
}

impl Screen {
    /// Builds the automaton; empty or punctuation-only terms are ignored.
    pub fn new(terms: impl IntoIterator<Item = String>) -> Self {
        let mut kept = Vec::new();
        let mut patterns = Vec::new();
        let mut buf = String::new();
        for term in terms {
            normalise(&term, &mut buf);
            if buf.trim().is_empty() || patterns.contains(&buf) {
                continue;
            }
            patterns.push(buf.clone());
            kept.push(term.trim().to_lowercase());
        }
        let automaton = (!patterns.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&patterns)
                    .ok()
            })
            .flatten();
        Self {
            automaton,
            terms: kept,
        }
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Every distinct term found in `text`, in order of first appearance.
    pub fn matches(&self, text: &str) -> Vec<&str> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let mut buf = String::new();
        normalise(text, &mut buf);
        let mut found: Vec<&str> = Vec::new();
        // Overlapping search: "social security" and "security administration" can both hit.
        for m in automaton.find_overlapping_iter(&buf) {
            let term = self.terms[m.pattern().as_usize()].as_str();
            if !found.contains(&term) {
                found.push(term);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(terms: &[&str]) -> Screen {
        Screen::new(terms.iter().map(|t| t.to_string()))
    }

    #[test]
    fn word_boundaries_and_case() {
        let s = screen(&["prize", "sex", "Social Security Administration"]);
        assert_eq!(s.matches("You won a PRIZE!"), ["prize"]);
        assert!(s.matches("a great enterprise").is_empty());
        assert!(s.matches("Greetings from Essex").is_empty());
        assert_eq!(
            s.matches("This is the Social-Security   Administration."),
            ["social security administration"]
        );
        assert!(s.matches("socialsecurity administration").is_empty());
    }

    #[test]
    fn non_ascii_text_and_terms() {
        let s = screen(&["préstamo", "prize"]);
        assert_eq!(s.matches("¡Tu PRÉSTAMO está aprobado!"), ["préstamo"]);
        assert_eq!(s.matches("Ünïcödé… prize—now"), ["prize"]);
        assert!(screen(&[]).matches("anything").is_empty());
    }
}

//! `[[lists]]`: the do-not-call lists (issue 14). Each has a `name`, a `kind`
//! (`national_dnc`, `state_dnc`, `internal_dnc`, `litigator`, `custom`), `max_age_days`
//! (default 31 for `national_dnc`, 90 for `state_dnc`, none for the rest: a list with one is
//! *gated*), `states` (required for, and only for, `state_dnc`) and `exemptions =
//! { consent_field, max_age_days }` (only `national_dnc` and `state_dnc` accept consent). A
//! bad value stops startup naming `lists[i].field`.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    NationalDnc,
    StateDnc,
    InternalDnc,
    Litigator,
    Custom,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NationalDnc => "national_dnc",
            Self::StateDnc => "state_dnc",
            Self::InternalDnc => "internal_dnc",
            Self::Litigator => "litigator",
            Self::Custom => "custom",
        }
    }

    /// Whether consent can exempt a lead from lists of this kind.
    pub fn accepts_consent(self) -> bool {
        matches!(self, Self::NationalDnc | Self::StateDnc)
    }

    /// Whether entries may be area-code or exchange prefixes.
    pub fn accepts_prefixes(self) -> bool {
        matches!(self, Self::InternalDnc | Self::Custom)
    }
}

/// Prior express consent: a lead whose `consent_field` holds an instant (RFC 3339) or date
/// (`YYYY-MM-DD`) at most `max_age_days` old passes the list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub consent_field: String,
    pub max_age_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSettings {
    pub name: String,
    pub kind: ListKind,
    /// `None`: never stale (not gated).
    pub max_age_days: Option<u32>,
    /// Two-letter codes, upper case (`state_dnc` only).
    pub states: Vec<String>,
    pub exemption: Option<Exemption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    name: String,
    kind: String,
    max_age_days: Option<i64>,
    #[serde(default)]
    states: Vec<String>,
    exemptions: Option<Exemption>,
}

pub(super) fn lists(table: &toml::Table, file: &str) -> Result<Vec<ListSettings>, ConfigError> {
    let Some(value) = table.get("lists") else {
        return Ok(Vec::new());
    };
    let raw: Vec<RawList> = value
        .clone()
        .try_into()
        .map_err(|e| ConfigError::new(format!("lists (in {file})"), e.to_string()))?;
    let mut out: Vec<ListSettings> = Vec::new();
    for (n, l) in raw.into_iter().enumerate() {
        let at = |what: &str| format!("lists[{n}].{what} (in {file})");
        let name =
            super::tables::entry_name(&l.name, &at("name"), out.iter().map(|o| o.name.as_str()))?;
        let kind: ListKind = toml::Value::String(l.kind.clone())
            .try_into()
            .map_err(|_| {
                ConfigError::new(
                    at("kind"),
                    format!("`{}` is not one of national_dnc, state_dnc, internal_dnc, litigator, custom", l.kind),
                )
            })?;
        let max_age_days = match (l.max_age_days, kind) {
            (Some(d), _) if !(1..=3650).contains(&d) => {
                return Err(ConfigError::new(
                    at("max_age_days"),
                    "must be between 1 and 3650",
                ))
            }
            (Some(d), _) => Some(d as u32),
            (None, ListKind::NationalDnc) => Some(31),
            (None, ListKind::StateDnc) => Some(90),
            (None, _) => None,
        };
        let states = states(kind, &l.states, &at("states"))?;
        if let Some(e) = &l.exemptions {
            if !kind.accepts_consent() {
                return Err(ConfigError::new(
                    at("exemptions"),
                    "internal_dnc, litigator and custom lists are never exempt",
                ));
            }
            if e.consent_field.trim().is_empty() || e.max_age_days == 0 {
                return Err(ConfigError::new(
                    at("exemptions"),
                    "needs a consent_field and a max_age_days above 0",
                ));
            }
        }
        out.push(ListSettings {
            name,
            kind,
            max_age_days,
            states,
            exemption: l.exemptions,
        });
    }
    Ok(out)
}

/// A list's states as two-letter codes: a `state_dnc` list names them, no other list does.
fn states(kind: ListKind, raw: &[String], at: &str) -> Result<Vec<String>, ConfigError> {
    let mut states = Vec::new();
    for s in raw {
        let code = s.trim().to_ascii_uppercase();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::new(
                at,
                format!("`{s}` is not a two-letter state code"),
            ));
        }
        states.push(code);
    }
    match (kind, states.is_empty()) {
        (ListKind::StateDnc, true) => {
            return Err(ConfigError::new(at, "a state_dnc list names its states"))
        }
        (k, false) if k != ListKind::StateDnc => {
            return Err(ConfigError::new(at, "only state_dnc lists have states"))
        }
        _ => {}
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ListSettings>, ConfigError> {
        lists(&text.parse::<toml::Table>().expect("toml"), "f")
    }

    #[test]
    fn defaults_states_and_exemptions() {
        let l = parse(
            r#"
            [[lists]]
            name = "ftc"
            kind = "national_dnc"
            exemptions = { consent_field = "tcpa_consent_at", max_age_days = 365 }
            [[lists]]
            name = "tx"
            kind = "state_dnc"
            states = ["tx"]
            [[lists]]
            name = "ours"
            kind = "internal_dnc"
        "#,
        )
        .expect("valid");
        assert_eq!(l[0].max_age_days, Some(31));
        assert_eq!(l[0].exemption.as_ref().map(|e| e.max_age_days), Some(365));
        assert_eq!(
            (l[1].max_age_days, l[1].states.clone()),
            (Some(90), vec!["TX".to_string()])
        );
        assert_eq!(l[2].max_age_days, None);
    }

    #[test]
    fn errors_name_the_list_and_field() {
        for (text, field) in [
            ("[[lists]]\nname = \"x\"\nkind = \"nope\"", "lists[0].kind"),
            ("[[lists]]\nname = \"x\"\nkind = \"state_dnc\"", "lists[0].states"),
            ("[[lists]]\nname = \"x\"\nkind = \"custom\"\nstates = [\"TX\"]", "lists[0].states"),
            (
                "[[lists]]\nname = \"x\"\nkind = \"internal_dnc\"\nexemptions = { consent_field = \"c\", max_age_days = 9 }",
                "lists[0].exemptions",
            ),
            ("[[lists]]\nname = \"x\"\nkind = \"custom\"\nmax_age_days = 0", "lists[0].max_age_days"),
            ("[[lists]]\nname = \"x\"\nkind = \"custom\"\n[[lists]]\nname = \"x\"\nkind = \"custom\"", "lists[1].name"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.to_string().contains(field), "{text}: {e}");
        }
    }
}

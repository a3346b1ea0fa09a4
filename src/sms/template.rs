//! A text's template filled from the lead: `{{field}}` (spaces inside the braces allowed)
//! becomes the lead's value. A field the lead does not have, or has empty, leaves the
//! text unsent and names the field — a lead never receives `{{first_name}}`.

use serde_json::{Map, Value};

/// The text, or the first placeholder the lead cannot fill.
pub fn render(template: &str, fields: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("the template has `{{` without `}}`".into());
        };
        let name = after[..close].trim();
        let value = match fields.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(format!(
                    "the lead has no `{name}` for the text's `{{{{{name}}}}}`"
                ))
            }
        };
        out.push_str(&value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lead() -> Map<String, Value> {
        json!({"first_name": "Ada", "lead_id": 7, "last_name": " "})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn placeholders_are_filled_and_a_missing_one_names_itself() {
        assert_eq!(
            render("Hi {{first_name}}, lead {{ lead_id }}.", &lead()).as_deref(),
            Ok("Hi Ada, lead 7.")
        );
        let missing = render("Hi {{first_name}} {{missing}}", &lead()).expect_err("missing");
        assert!(missing.contains("`missing`"), "{missing}");
        assert!(
            render("{{last_name}}", &lead()).is_err(),
            "empty counts as missing"
        );
        assert!(render("Hi {{first_name", &lead()).is_err());
        assert_eq!(
            render("no placeholders", &lead()).as_deref(),
            Ok("no placeholders")
        );
    }
}

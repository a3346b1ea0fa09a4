//! The OpenAPI 3 description of every route, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/openapi.json` (no key: it holds no secrets). A test
//! reads every route the `configure` functions register and fails when one has no
//! description here.

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer's body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Always false.
    success: bool,
    /// What went wrong, naming the field or the problem.
    error: String,
    /// Our id of the request (also in `X-Request-Id`).
    request_id: String,
    /// Every problem, for invalid input.
    errors: Option<Vec<serde_json::Value>>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "an admin key (ADMIN_API_KEY)",
            ))),
        );
        c.add_security_scheme(
            "webhook_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Webhook-Token",
                "WEBHOOK_TOKEN, when set (or ?token=)",
            ))),
        );
        c.add_security_scheme(
            "bland_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Webhook-Signature",
                "hex HMAC-SHA256 of the raw body with BLAND_WEBHOOK_SECRET, when set",
            ))),
        );
    }
}

/// The Node version's webhook paths, kept as aliases.
#[utoipa::path(post, path = "/webhooks/awhealth-outbound", tag = "webhooks", summary = "Alias of /webhooks/lead (the Node version's path)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = ErrorBody), (status = 200, description = "blocked", body = super::schemas_ops::LeadAnswer), (status = 202, description = "accepted (the call is queued) or deferred", body = super::schemas_ops::LeadAnswer), (status = 400, description = "bad input", body = ErrorBody), (status = 401, description = "missing or wrong webhook token", body = ErrorBody)), security((), ("webhook_token" = [])))]
#[allow(dead_code)]
fn lead_alias() {}

#[utoipa::path(post, path = "/webhooks/sms-reply", tag = "webhooks", summary = "Alias of /webhooks/sms (the Node version's path)", request_body(content((super::sms::InboundText = "application/json"), (super::sms::InboundText = "application/x-www-form-urlencoded")), description = "the text"), responses((status = 200, description = "recorded, or a repeat of one recorded (`status`)", body = super::sms::InboundAnswer), (status = 400, description = "bad input", body = ErrorBody), (status = 401, description = "missing or wrong X-Webhook-Signature", body = ErrorBody), (status = 415, description = "a body that is not the content type the route reads", body = ErrorBody), (status = 503, description = "nothing was recorded, retry", body = ErrorBody)), security((), ("bland_signature" = [])))]
#[allow(dead_code)]
fn sms_alias() {}

#[utoipa::path(post, path = "/webhooks/bland-callback", tag = "webhooks", summary = "Alias of /webhooks/bland", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = ErrorBody), (status = 200, description = "recorded, duplicate or unmatched", body = super::schemas_ops::CompletionAnswer), (status = 400, description = "bad input", body = ErrorBody), (status = 401, description = "bad signature", body = ErrorBody), (status = 503, description = "the completion could not be recorded (the store is named); Bland retries", body = ErrorBody)), security((), ("bland_signature" = [])))]
#[allow(dead_code)]
fn bland_alias() {}

#[utoipa::path(get, path = "/api/openapi.json", tag = "system", summary = "This description", responses((status = 200, description = "the OpenAPI document", body = serde_json::Value)))]
async fn document() -> HttpResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.clone())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/openapi.json").route(web::get().to(document)));
}

#[derive(OpenApi)]
#[openapi(
    info(title = "callgate", description = "An outbound-call gateway between Convoso and Bland AI."),
    paths(
        document, lead_alias, bland_alias, sms_alias,
        super::system::health,
        super::system::ready,
        super::system::live,
        super::system::metrics,
        super::webhooks::lead,
        super::webhooks::bland,
        super::attempts::attempt,
        super::sms::sms,
        super::sms::call_back,
        super::texts::get_config,
        super::texts::put_config,
        super::blocklist::list,
        super::blocklist::add,
        super::blocklist::set_enabled,
        super::blocklist::lookup,
        super::blocklist::bulk_import,
        super::blocklist::export,
        super::blocklist::get_one,
        super::blocklist::update,
        super::blocklist::remove,
        super::feeds::list,
        super::feeds::refresh,
        super::feeds::check,
        super::feeds::words,
        super::stats::attempts_today,
        super::stats::attempts,
        super::stats::blocklist_statistics,
        super::stats::pipeline_statistics,
        super::caller_ids::list,
        super::caller_ids::one,
        super::caller_ids::rest,
        super::caller_ids::unrest,
        super::caller_ids::clear,
        super::caller_ids::get_config,
        super::caller_ids::put_config,
        super::calls::check,
        super::calls::pending,
        super::calls::reconcile,
        super::calls::resolve,
        super::calls::one,
        super::tracker::get_am,
        super::tracker::put_am,
        super::tracker::am_counts,
        super::tracker::get_protection,
        super::tracker::put_protection,
        super::tracker::active,
        super::tracker::history,
        super::quarantine::list,
        super::quarantine::acknowledge,
        super::lookup::lookup,
        super::lists::list,
        super::lists::lookup,
        super::lists::audit,
        super::lists::replace,
        super::lists::changes,
        super::lists::empty,
        super::convoso::pending,
        super::convoso::retry,
        super::convoso::dismiss,
        super::redials::pause,
        super::redials::resume,
        super::redials::delete,
        super::scheduler::get_config,
        super::scheduler::put_config,
        super::scheduler::list,
        super::scheduler::release,
        super::scheduler::delete
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security)
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (METHOD, path) of every route the `configure` functions register, read from the
    /// sources: `web::resource("…")` and the `web::get()`… after it, under `/api/admin` for
    /// the modules configured inside the admin scope in `routes/mod.rs`.
    fn registered() -> BTreeSet<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("source");
        let root = read("mod.rs");
        let scope = root
            .find("web::scope(\"/api/admin\")")
            .expect("admin scope");
        let admin: BTreeSet<String> = root[scope..]
            .split(".configure(")
            .skip(1)
            .filter_map(|c| c.split("::configure").next().map(str::to_string))
            .collect();
        let resource = regex::Regex::new(r#"web::resource\("([^"]+)"\)"#).expect("re");
        let alias = regex::Regex::new(r#"for path in \[([^\]]*)\]"#).expect("re");
        let method = regex::Regex::new(r"web::(get|post|put|delete|head|patch)\(\)").expect("re");
        let mut found = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).expect("routes") {
            let path = entry.expect("entry").path();
            let module = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("source");
            let Some(start) = text.find("pub fn configure(") else {
                continue;
            };
            let body = &text[start
                ..text[start..]
                    .find("\n}\n")
                    .map_or(text.len(), |e| start + e)];
            let prefix = if admin.contains(&module) {
                "/api/admin"
            } else {
                ""
            };
            let mut starts: Vec<(usize, Vec<String>)> = resource
                .captures_iter(body)
                .map(|c| (c.get(0).map_or(0, |m| m.start()), vec![c[1].to_string()]))
                .collect();
            for c in alias.captures_iter(body) {
                let paths = c[1]
                    .split(',')
                    .map(|p| p.trim().trim_matches('"').to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                starts.push((c.get(0).map_or(0, |m| m.start()), paths));
            }
            starts.sort();
            for (i, (at, paths)) in starts.iter().enumerate() {
                let end = starts.get(i + 1).map_or(body.len(), |n| n.0);
                for m in method.captures_iter(&body[*at..end]) {
                    for p in paths {
                        found.insert((m[1].to_uppercase(), format!("{prefix}{p}")));
                    }
                }
            }
        }
        found
    }

    fn described() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (m, _) in item.as_object().expect("item") {
                if ["get", "post", "put", "delete", "head", "patch"].contains(&m.as_str()) {
                    out.insert((m.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_registered_route_is_described_and_nothing_else() {
        let registered = registered();
        let described = described();
        assert!(
            registered.len() > 50,
            "the routes were read: {registered:?}"
        );
        let missing: Vec<_> = registered.difference(&described).collect();
        assert!(
            missing.is_empty(),
            "registered but not described: {missing:?}"
        );
        let extra: Vec<_> = described.difference(&registered).collect();
        assert!(extra.is_empty(), "described but not registered: {extra:?}");
    }

    #[test]
    fn the_document_has_the_security_schemes_and_the_error_body() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        assert_eq!(
            doc["openapi"].as_str().map(|v| v.starts_with("3.")),
            Some(true)
        );
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["api_key"]["name"], "X-API-Key");
        assert_eq!(schemes["bland_signature"]["name"], "X-Webhook-Signature");
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        let add = &doc["paths"]["/api/admin/blocklist"]["post"];
        assert_eq!(add["security"][0]["api_key"], serde_json::json!([]));
        // The seed's shapes appear as they are.
        let list = &doc["paths"]["/api/admin/blocklist"]["get"]["responses"]["200"];
        assert_eq!(
            list["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/FlagList"
        );
        let flag = &doc["components"]["schemas"]["Flag"];
        assert_eq!(
            flag["required"],
            serde_json::json!(["id", "field", "value", "added_at"])
        );
        let stats = &doc["components"]["schemas"]["BlocklistStatistics"]["required"];
        assert_eq!(
            stats,
            &serde_json::json!([
                "date_range",
                "total_attempts",
                "blocked_attempts",
                "by_flag",
                "by_field"
            ])
        );
        assert_eq!(
            add["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
    }

    /// Every JSON answer (success or error) names a schema; only the document itself is
    /// free-form.
    #[test]
    fn every_json_answer_has_a_named_schema() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        let mut bare = Vec::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().expect("operations") {
                let Some(responses) = op["responses"].as_object() else {
                    continue;
                };
                for (status, answer) in responses {
                    let schema = &answer["content"]["application/json"]["schema"];
                    if !schema.is_null() && schema["$ref"].is_null() && path != "/api/openapi.json"
                    {
                        bare.push(format!("{method} {path} {status}"));
                    }
                }
            }
        }
        assert!(bare.is_empty(), "JSON answers without a schema: {bare:?}");
    }
}

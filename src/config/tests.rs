use super::*;

fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(Some(Path::new("/dev/null")), &move |k| map.get(k).cloned())
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let s = load(&[]).expect("defaults are valid");
    assert_eq!(s.port, 3000);
    assert_eq!(s.host, "0.0.0.0");
    assert_eq!(s.timezone, chrono_tz::America::New_York);
    assert!(s.admin_api_keys.is_empty());
    assert!(s.dry_run());
    assert_eq!(s.bland.api_url, "https://api.bland.ai");
}

#[test]
fn bad_values_name_the_setting() {
    for (var, value) in [
        ("PORT", "70000"),
        ("PORT", "abc"),
        ("TIMEZONE", "Mars/Olympus"),
        ("LOG_FORMAT", "xml"),
        ("BLAND_API_URL", "ftp://x"),
        ("MAX_BODY_BYTES", "0"),
        ("DEFAULT_COUNTRY", "ZZ"),
    ] {
        let err = load(&[(var, value)]).expect_err(var);
        assert_eq!(err.setting, var, "{err}");
    }
}

#[test]
fn several_admin_keys_are_split_on_commas() {
    let s = load(&[("ADMIN_API_KEY", " one, two ,,three")]).expect("valid");
    let keys: Vec<_> = s.admin_api_keys.iter().map(Secret::expose).collect();
    assert_eq!(keys, ["one", "two", "three"]);
}

#[test]
fn env_overrides_file_and_file_overrides_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "port = 4000\ntimezone = \"America/Chicago\"\n[bland]\napi_url = \"http://localhost:1\"\n",
    )
    .expect("write");
    let env = |k: &str| (k == "PORT").then(|| "5000".to_string());
    let s = Settings::load(Some(&path), &env).expect("valid");
    assert_eq!(s.port, 5000);
    assert_eq!(s.timezone, chrono_tz::America::Chicago);
    assert_eq!(s.bland.api_url, "http://localhost:1");
}

#[test]
fn file_errors_name_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "port = \"x\"\n").expect("write");
    let err = Settings::load(Some(&path), &|_| None).expect_err("bad port");
    assert!(err.setting.starts_with("port (in "), "{err}");
    std::fs::write(&path, "prot = 1\n").expect("write");
    let err = Settings::load(Some(&path), &|_| None).expect_err("unknown key");
    assert!(err.to_string().contains("unknown setting"), "{err}");
}

#[test]
fn the_example_config_file_is_valid() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/callgate.example.toml"
    ));
    let s = Settings::load(Some(path), &|_| None).expect("example config loads");
    assert_eq!(s.port, 3000);
    assert_eq!(s.blocklist_compact_after, 10000);
    assert_eq!(s.convoso.dnc_tags, ["do_not_call", "dnc", "stop"]);
    assert_eq!(s.redial.intervals_minutes, [30, 60, 120, 240]);
    assert_eq!(s.bland.reconcile_after_minutes, 10);
    assert_eq!(s.sms.callback_words, ["YES", "CALL ME", "CALL"]);
    assert_eq!(s.sms.opt_out_words.len(), 8);
}

#[test]
fn sms_words_come_from_the_environment_and_opt_outs_cannot_be_emptied() {
    let s = load(&[("SMS_CALLBACK_WORDS", "si, llámame")]).expect("valid");
    assert_eq!(s.sms.callback_words, ["si", "llámame"]);
    assert_eq!(s.sms.opt_out_words[0], "STOP");
    let err = load(&[("SMS_OPT_OUT_WORDS", " , ")]).expect_err("empty");
    assert!(err.to_string().contains("SMS_OPT_OUT_WORDS"), "{err}");
}

#[test]
fn secrets_do_not_debug_print() {
    let s = load(&[
        ("ADMIN_API_KEY", "topsecret"),
        ("BLAND_API_KEY", "bland-secret"),
        ("CONVOSO_AUTH_TOKEN", "convoso-secret"),
    ])
    .expect("valid");
    let shown = format!("{s:?}");
    assert!(!shown.contains("topsecret") && !shown.contains("bland-secret"));
    assert!(!shown.contains("convoso-secret"));
}

#[test]
fn bland_call_extras_and_lists_come_from_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[bland]\nfrom = [\"+13055550001\", \"+13055550002\"]\nmax_calls_per_second = 2.5\n[bland.call]\nlanguage = \"en-US\"\ninterruption_threshold = 120\n[lead]\nphone_fields = [\"Phone\"]\n",
    )
    .expect("write");
    let s = Settings::load(Some(&path), &|_| None).expect("valid");
    assert_eq!(s.bland.from, ["+13055550001", "+13055550002"]);
    assert_eq!(s.bland.max_calls_per_second, 2.5);
    assert_eq!(s.bland.extra["language"], "en-US");
    assert_eq!(s.bland.extra["interruption_threshold"], 120);
    assert_eq!(s.lead_fields.phone, ["Phone"]);
    let err = Settings::load(Some(&path), &|k| {
        (k == "BLAND_VOICEMAIL_ACTION").then(|| "shout".into())
    })
    .expect_err("bad action");
    assert_eq!(err.setting, "BLAND_VOICEMAIL_ACTION");
}

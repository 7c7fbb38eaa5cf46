//! Application JSON: import, schema validation and export.
//!
//! Two sets of files: MultiFlexi's real app definitions in the shared fixtures folder (other
//! projects' files, read in place and never copied; the tests skip with a message when the folder
//! is absent), and our own hand-written fixtures in `tests/fixtures/apps/`, one legacy variant
//! each (those in `rejected/` must be refused).

use multiflexi_core::app_json::{
    ImportError, ImportedApp, WarningKind, export_app, export_app_pretty, parse_app, validate,
};
use multiflexi_core::model::{
    App, ArtifactPattern, EnvFieldDef, EnvFieldType, ExitCodeInfo, LocalizedText,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use WarningKind::{Converted, DuplicateKey, Ignored, KeyAlias, NeverMatches, TypeMapped};

// ---------------------------------------------------------------------------------------------
// Helpers

/// `shared/fixtures/multiflexi/apps`: beside the workspace in CI (`../shared`), further up in a
/// git worktree; `MULTIFLEXI_FIXTURES` (the `multiflexi` folder) overrides.
fn shared_apps() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MULTIFLEXI_FIXTURES") {
        return Some(PathBuf::from(dir).join("apps")).filter(|p| p.is_dir());
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/multiflexi/apps"))
        .find(|p| p.is_dir())
}

macro_rules! shared_or_skip {
    () => {
        match shared_apps() {
            Some(dir) => dir,
            None => {
                eprintln!(
                    "skipped: shared/fixtures/multiflexi/apps not found beside the workspace \
                     (set MULTIFLEXI_FIXTURES to run these tests)"
                );
                return;
            }
        }
    };
}

fn own_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apps")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn shared(name: &str) -> Option<Vec<u8>> {
    shared_apps().map(|d| std::fs::read(d.join(name)).unwrap())
}

fn own(name: &str) -> Vec<u8> {
    std::fs::read(own_dir().join(name)).unwrap()
}

fn import(bytes: &[u8]) -> ImportedApp {
    parse_app(bytes).unwrap_or_else(|e| panic!("import failed: {e}"))
}

/// `(path, kind)` of every warning.
fn warnings(imported: &ImportedApp) -> Vec<(String, WarningKind)> {
    imported
        .warnings
        .iter()
        .map(|w| (w.path.clone(), w.kind))
        .collect()
}

fn expected(list: &[(&str, WarningKind)]) -> Vec<(String, WarningKind)> {
    list.iter().map(|(p, k)| ((*p).to_owned(), *k)).collect()
}

fn violation_paths(bytes: &[u8]) -> Vec<String> {
    validate(bytes).into_iter().map(|v| v.path).collect()
}

fn texts(pairs: &[(&str, &str)]) -> LocalizedText {
    LocalizedText(
        pairs
            .iter()
            .map(|(l, t)| ((*l).to_owned(), (*t).to_owned()))
            .collect(),
    )
}

fn field<'a>(app: &'a App, name: &str) -> &'a EnvFieldDef {
    app.field(name)
        .unwrap_or_else(|| panic!("no field {name} in {}", app.display_name()))
}

/// Export → import gives the same app, with no warnings, and the export is schema-valid. Artifact
/// paths are kept as written, so a note about one (braces read as a group, a pattern that can
/// match nothing) is the only warning that comes again.
fn assert_round_trip(app: &App) {
    let text = export_app_pretty(app);
    let back = import(text.as_bytes());
    assert_eq!(
        &back.app,
        app,
        "round trip of {}\n{text}",
        app.display_name()
    );
    assert!(
        back.warnings
            .iter()
            .all(|w| w.path.starts_with("/artifacts/")
                && w.path.ends_with("/path")
                && matches!(w.kind, Converted | NeverMatches)),
        "{:?}",
        back.warnings
    );
    assert_eq!(
        validate(text.as_bytes()),
        [],
        "export of {}",
        app.display_name()
    );
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value, export_app(app));
}

// ---------------------------------------------------------------------------------------------
// Shared fixtures: every file is imported or rejected exactly as expected.

enum Outcome {
    /// Imported with exactly these warnings; `validate` reports exactly these paths.
    Imported {
        warnings: &'static [(&'static str, WarningKind)],
        violations: &'static [&'static str],
    },
    /// Refused as not JSON at this line and column.
    NotJson { line: usize, column: usize },
}

const SHARED: &[(&str, Outcome)] = &[
    (
        "php-vitexsoftware-multiflexi-core.app-with-exitcodes.app.json",
        Outcome::Imported {
            warnings: &[],
            violations: &[],
        },
    ),
    (
        "AbraFlexi-Tools.abraflexi_benchmark.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[
                ("/topics", KeyAlias),
                ("/requirements", Converted),
                ("/environment/ABRAFLEXI_BENCHMARK_DELAY/type", TypeMapped),
                ("/environment/DEBUG/type", TypeMapped),
            ],
            violations: &[
                "/$schema",
                "/requirements",
                "/ociimage",
                "/environment/ABRAFLEXI_BENCHMARK_DELAY/type",
                "/environment/DEBUG/type",
            ],
        },
    ),
    (
        "MultiFlexi.sleep.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[("/topics", KeyAlias)],
            violations: &[],
        },
    ),
    (
        "pohoda-raiffeisenbank.pohodasql_raiffeisenbank_sharepoint.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[
                ("/environment/APP_DEBUG/defval", Converted),
                ("/artifacts/0/path", Converted),
            ],
            violations: &[],
        },
    ),
    (
        "raiffeisenbank-statement-tools.rb_balance.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[("/exitCodes/0", DuplicateKey)],
            violations: &[],
        },
    ),
    (
        "kb-statement-tools.rb_statement_mailer.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[
                ("/topics", KeyAlias),
                ("/requirements", Converted),
                ("/environment/STATEMENTS_DIR/type", TypeMapped),
            ],
            violations: &[
                "/$schema",
                "/requirements",
                "/ociimage",
                "/environment/STATEMENTS_DIR/type",
            ],
        },
    ),
    (
        "abraflexi-contract-invoices.contract_to_invoices.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[("/exitcodes", Ignored)],
            violations: &[],
        },
    ),
    (
        "pohoda-abo-importer.pohoda-abo-importer.app.json",
        Outcome::Imported {
            warnings: &[
                ("/topics", KeyAlias),
                ("/environment/POHODA_TIMEOUT/type", TypeMapped),
                ("/environment/POHODA_DEBUG/type", TypeMapped),
            ],
            violations: &[
                "/$schema",
                "/ociimage",
                "/environment/POHODA_TIMEOUT/type",
                "/environment/POHODA_DEBUG/type",
                "/produces/report/format",
            ],
        },
    ),
    (
        "abraflexi-reminder.abraflexi-reminder.multiflexi.app.json",
        Outcome::NotJson {
            line: 256,
            column: 3,
        },
    ),
    (
        "AbraFlexi-email-importer.isdoc_file_importer.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[("/topics", KeyAlias)],
            violations: &["/$schema"],
        },
    ),
    (
        "abraflexi-mailer.abraflexi_send.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[],
            violations: &["/$schema", "/homepage"],
        },
    ),
    (
        "AbraFlexi-Digest.monthly_digest.multiflexi.app.json",
        Outcome::Imported {
            warnings: &[],
            violations: &[],
        },
    ),
];

#[test]
fn every_shared_fixture_is_imported_or_rejected_exactly() {
    let dir = shared_or_skip!();
    let files = files_in(&dir);
    let listed: BTreeSet<&str> = SHARED.iter().map(|(n, _)| *n).collect();
    let present: BTreeSet<String> = files.iter().map(|p| file_name(p)).collect();
    assert_eq!(
        present,
        listed.iter().map(|s| (*s).to_owned()).collect(),
        "the shared fixtures changed: every file needs an expected outcome here"
    );
    for (name, outcome) in SHARED {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        match outcome {
            Outcome::Imported {
                warnings: w,
                violations,
            } => {
                let imported = import(&bytes);
                assert_eq!(warnings(&imported), expected(w), "{name} warnings");
                assert_eq!(violation_paths(&bytes), *violations, "{name} violations");
                assert_round_trip(&imported.app);
            }
            Outcome::NotJson { line, column } => {
                match parse_app(&bytes) {
                    Err(ImportError::NotJson {
                        line: l, column: c, ..
                    }) => assert_eq!((l, c), (*line, *column), "{name}"),
                    other => panic!("{name}: expected NotJson, got {other:?}"),
                }
                let v = validate(&bytes);
                assert_eq!(v.len(), 1, "{name}: {v:?}");
                assert!(
                    v[0].message
                        .contains(&format!("line {line}, column {column}")),
                    "{}",
                    v[0]
                );
            }
        }
    }
}

#[test]
fn reminder_trailing_comma_is_rejected_with_its_line() {
    let Some(bytes) = shared("abraflexi-reminder.abraflexi-reminder.multiflexi.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let err = parse_app(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not valid JSON: trailing comma at line 256, column 3"
    );
    assert_eq!(err.path(), "");
    let as_core: multiflexi_core::Error = err.into();
    assert!(as_core.to_string().contains("line 256"), "{as_core}");
}

#[test]
fn exit_code_example_keeps_severity_retry_and_languages() {
    let Some(bytes) = shared("php-vitexsoftware-multiflexi-core.app-with-exitcodes.app.json")
    else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(
        app.name,
        LocalizedText::plain("Example App with Exit Codes")
    );
    assert_eq!(
        app.description.get("cs"),
        Some("Příklad aplikace demonstrující definice návratových kódů")
    );
    assert_eq!(app.executable, "/usr/bin/example-app");
    assert_eq!(
        (app.uuid.as_deref(), app.version.as_deref()),
        (None, Some("1.0.0"))
    );
    assert!(field(&app, "EXAMPLE_OPTION").required);
    let codes: Vec<i32> = app.exit_codes.keys().copied().collect();
    assert_eq!(codes, [0, 1, 2, 3, 4, 5, 126, 127]);
    let busy = &app.exit_codes[&3];
    assert_eq!(
        (busy.severity.as_deref(), busy.retry),
        (Some("warning"), true)
    );
    let missing = &app.exit_codes[&127];
    assert_eq!(missing.severity.as_deref(), Some("critical"));
    assert!(!missing.retry);
    assert_eq!(
        missing.description.get("cs"),
        Some("Příkaz nenalezen - spustitelný soubor neexistuje")
    );
}

#[test]
fn benchmark_legacy_file_maps_types_lists_and_macros() {
    let Some(bytes) = shared("AbraFlexi-Tools.abraflexi_benchmark.multiflexi.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let imported = import(&bytes);
    let app = &imported.app;
    assert_eq!(
        app.cmdparams,
        "-p -c {ABRAFLEXI_BENCHMARK_CYCLES} -d {ABRAFLEXI_BENCHMARK_DELAY}"
    );
    assert_eq!(app.tags, ["AbraFlexi", "Benchmark"]);
    assert_eq!(app.requirements, ["AbraFlexi"]);
    assert_eq!(app.ociimage, None);
    assert_eq!(app.setup, None);
    assert_eq!(
        app.homepage.as_deref(),
        Some("https://github.com/VitexSoftware/AbraFlexi-Tools")
    );
    assert_eq!(
        app.uuid.as_deref(),
        Some("49ae4677-757b-40dc-b437-989fa372c898")
    );
    let cycles = field(app, "ABRAFLEXI_BENCHMARK_CYCLES");
    assert_eq!(
        (cycles.kind, cycles.default.as_deref()),
        (EnvFieldType::Integer, Some("10"))
    );
    let delay = field(app, "ABRAFLEXI_BENCHMARK_DELAY");
    assert_eq!(
        (delay.kind, delay.default.as_deref(), delay.required),
        (EnvFieldType::Integer, Some("5"), false)
    );
    let debug = field(app, "DEBUG");
    assert_eq!(
        (debug.kind, debug.default.as_deref()),
        (EnvFieldType::Bool, Some("false"))
    );
    let messages: Vec<String> = imported.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        messages,
        [
            "/topics: legacy key \"topics\" read as \"tags\" (comma-separated text split into 2 tags)",
            "/requirements: comma-separated text read as a list of 1 requirement",
            "/environment/ABRAFLEXI_BENCHMARK_DELAY/type: type \"int\" is not in the schema; read as \"integer\"",
            "/environment/DEBUG/type: type \"boolean\" is not in the schema; read as \"bool\"",
        ]
    );
    let names: Vec<&str> = app.environment.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"ABRAFLEXI_COMPANY"), "file order kept");
    assert_eq!(names.last(), Some(&"DEBUG"));
}

#[test]
fn sleep_keeps_adjacent_macros_and_string_default() {
    let Some(bytes) = shared("MultiFlexi.sleep.multiflexi.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.cmdparams, "{NUMBER}{UNIT}");
    assert_eq!(app.tags, ["wait", "sleep"]);
    assert!(app.requirements.is_empty());
    let number = field(&app, "NUMBER");
    assert_eq!(
        (number.kind, number.default.as_deref(), number.required),
        (EnvFieldType::Integer, Some("60"), true)
    );
}

#[test]
fn largest_modern_file_keeps_everything() {
    let Some(bytes) =
        shared("pohoda-raiffeisenbank.pohodasql_raiffeisenbank_sharepoint.multiflexi.app.json")
    else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.environment.len(), 41);
    assert_eq!(app.environment[0].name, "ACCOUNT_NUMBER");
    assert_eq!(app.environment[40].name, "EASE_LOGGER");
    assert_eq!(app.name.0.len(), 2);
    assert_eq!(
        app.requirements,
        ["RaiffeisenBank", "SQLServer", "Office365", "MServer"]
    );
    let line = field(&app, "STATEMENT_LINE");
    assert_eq!(line.kind, EnvFieldType::Set);
    assert_eq!(
        line.options,
        [
            ("MAIN".to_owned(), "Main statement line".to_owned()),
            (
                "ADDITIONAL".to_owned(),
                "Additional statement line".to_owned()
            ),
        ]
    );
    assert_eq!(line.hint, texts(&[("cs", "MAIN"), ("en", "MAIN")]));
    let scope = field(&app, "SHAREPOINT_LINK_SCOPE");
    let values: Vec<&str> = scope.options.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(values, ["anonymous", "organization", "users"]);
    for (name, default) in [
        ("POHODA_TIMEOUT", "60"),
        ("DB_PORT", "1433"),
        ("FIXED_RATE", ""),
        ("FIXED_RATE_AMOUNT", "100"),
        ("POHODA_COMPRESS", "false"),
        ("SHAREPOINT_UPLOAD_XML", "true"),
        ("APP_DEBUG", "false"),
    ] {
        assert_eq!(
            field(&app, name).default.as_deref(),
            Some(default),
            "{name}"
        );
    }
    for name in ["CERT_PASS", "DB_PASSWORD", "OFFICE365_PASSWORD"] {
        assert!(field(&app, name).secret, "{name}");
    }
    assert!(
        !field(&app, "OFFICE365_SECRET").secret,
        "a text field stays visible"
    );
    assert_eq!(app.artifacts.len(), 1);
    let report = &app.artifacts[0];
    assert_eq!(report.path, "bank_import_report_{\\d+}.json$");
    assert_eq!(report.kind, "file");
    assert_eq!(report.name.get("en"), Some("Import report"));
    assert_eq!(app.exit_codes.len(), 13);
}

#[test]
fn rb_balance_duplicate_exit_code_last_wins() {
    let Some(bytes) = shared("raiffeisenbank-statement-tools.rb_balance.multiflexi.app.json")
    else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let imported = import(&bytes);
    let app = &imported.app;
    assert_eq!(
        app.exit_codes[&0].description,
        texts(&[("cs", "Úspěšné dokončení"), ("en", "Success")])
    );
    assert_eq!(app.exit_codes.len(), 11);
    let lost = multiflexi_core::app_json::lost_duplicates(&bytes);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].path, "/exitCodes/0");
    assert_eq!(
        imported.warnings[0].to_string(),
        "/exitCodes/0: key \"0\" appears 2 times with different values; the last occurrence \
         is used"
    );
    assert_eq!(
        app.name,
        texts(&[("cs", "Zůstatek RB"), ("en", "RB Balance")])
    );
    assert_eq!(
        field(app, "RBAPI_RATE_LIMIT_JSON_FILE").default.as_deref(),
        Some("{MULTIFLEXI_TMP}/rbczpremiumapi_rates.json")
    );
}

#[test]
fn statement_mailer_directory_becomes_file_path() {
    let Some(bytes) = shared("kb-statement-tools.rb_statement_mailer.multiflexi.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.cmdparams, "");
    assert_eq!(app.tags, ["RaiffeisenBank", "Mail", "Statements"]);
    assert_eq!(field(&app, "STATEMENTS_DIR").kind, EnvFieldType::FilePath);
    assert_eq!(field(&app, "STATEMENTS_TO").kind, EnvFieldType::Email);
    assert!(field(&app, "CERT_PASS").secret);
}

#[test]
fn contract_invoices_ignores_lowercase_exitcodes() {
    let Some(bytes) =
        shared("abraflexi-contract-invoices.contract_to_invoices.multiflexi.app.json")
    else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert!(app.exit_codes.is_empty());
    assert_eq!(
        app.ociimage.as_deref(),
        Some("docker.io/vitexsoftware/abraflexi-contract-invoices")
    );
    assert_eq!(
        field(&app, "ZABBIX_KEY").default.as_deref(),
        Some("Generated-Contracts-{ABRAFLEXI_COMPANY}")
    );
    assert_eq!(field(&app, "APP_DEBUG").default.as_deref(), Some("false"));
}

#[test]
fn abo_importer_maps_number_and_boolean() {
    let Some(bytes) = shared("pohoda-abo-importer.pohoda-abo-importer.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.setup.as_deref(), Some("pohoda-abo-importer-setup"));
    assert_eq!(app.requirements, ["mServer", "Pohoda"]);
    assert_eq!(app.tags.len(), 5);
    let timeout = field(&app, "POHODA_TIMEOUT");
    assert_eq!(
        (timeout.kind, timeout.default.as_deref()),
        (EnvFieldType::Integer, Some("60"))
    );
    assert_eq!(field(&app, "POHODA_DEBUG").kind, EnvFieldType::Bool);
}

#[test]
fn isdoc_importer_keeps_double_brace_macro() {
    let Some(bytes) = shared("AbraFlexi-email-importer.isdoc_file_importer.multiflexi.app.json")
    else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.cmdparams, "{{ ISDOC_FILE }}");
    assert_eq!(app.setup.as_deref(), Some("abraflexi-email-importer-init"));
    let file = field(&app, "ISDOC_FILE");
    assert_eq!(file.kind, EnvFieldType::FilePath);
    assert_eq!(file.default, None);
    assert_eq!(file.hint, LocalizedText::plain("Faktura_250800021.isdocx"));
}

#[test]
fn first_generation_export_reads_nulls_as_absent() {
    let Some(bytes) = shared("abraflexi-mailer.abraflexi_send.multiflexi.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.homepage, None);
    assert_eq!(app.uuid, None);
    assert_eq!(app.executable, "/bin/abraflexi-send-unsent");
    assert_eq!(app.environment.len(), 4);
    assert!(app.environment.iter().all(|f| !f.required));
}

#[test]
fn digest_keeps_artifact_macro_and_options_order() {
    let Some(bytes) = shared("AbraFlexi-Digest.monthly_digest.multiflexi.app.json") else {
        return eprintln!("skipped: shared fixtures not found");
    };
    let app = import(&bytes).app;
    assert_eq!(app.version.as_deref(), Some("1.33.1"));
    assert_eq!(app.ociimage, None);
    assert_eq!(
        app.artifacts,
        [{
            let mut a = ArtifactPattern::new("${RESULT_FILE}", "html");
            a.name = LocalizedText::plain("Monthly Digest Report");
            a.description = texts(&[
                ("cs", "Měsíční digest report generovaný aplikací."),
                (
                    "en",
                    "The monthly digest report generated by the application.",
                ),
            ]);
            a
        }]
    );
    let theme = field(&app, "THEME");
    let values: Vec<&str> = theme.options.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(
        values,
        [
            "bootstrap",
            "email",
            "green",
            "rainbow",
            "nordic-blue",
            "violet-garden"
        ]
    );
    assert_eq!(
        field(&app, "DIGEST_CHECK_SUPPLIER_CONTACT")
            .default
            .as_deref(),
        Some("true")
    );
}

// ---------------------------------------------------------------------------------------------
// Our own fixtures: each legacy variant in isolation.

/// File name, expected `(path, kind)` warnings, expected violation paths.
type OwnFixture = (
    &'static str,
    &'static [(&'static str, WarningKind)],
    &'static [&'static str],
);

/// Every own fixture (outside `rejected/`) imports, round-trips, and its warnings and
/// violations are exactly these.
const OWN: &[OwnFixture] = &[
    ("modern_minimal.app.json", &[], &[]),
    (
        "topics_comma_string.app.json",
        &[("/topics", KeyAlias)],
        &[],
    ),
    ("topics_list.app.json", &[("/topics", KeyAlias)], &[]),
    (
        "requirements_comma_string.app.json",
        &[("/requirements", Converted)],
        &["/requirements"],
    ),
    (
        "cmdparams_template.app.json",
        &[("/cmdparamsTemplate", KeyAlias)],
        &[],
    ),
    (
        "env_type_spellings.app.json",
        &[
            ("/environment/AS_BOOLEAN/type", TypeMapped),
            ("/environment/AS_CHECKBOX/type", TypeMapped),
            ("/environment/AS_CHECKBOX/defval", Converted),
            ("/environment/AS_SWITCH/type", TypeMapped),
            ("/environment/AS_INT/type", TypeMapped),
            ("/environment/AS_NUMBER/type", TypeMapped),
            ("/environment/AS_SELECT/type", TypeMapped),
            ("/environment/AS_FILE/type", TypeMapped),
            ("/environment/AS_DIRECTORY/type", TypeMapped),
            ("/environment/AS_COLOUR/type", TypeMapped),
        ],
        &[
            "/environment/AS_BOOLEAN/type",
            "/environment/AS_CHECKBOX/type",
            "/environment/AS_SWITCH/type",
            "/environment/AS_INT/type",
            "/environment/AS_NUMBER/type",
            "/environment/AS_SELECT/type",
            "/environment/AS_FILE/type",
            "/environment/AS_DIRECTORY/type",
            "/environment/AS_COLOUR/type",
        ],
    ),
    (
        "boolean_spellings.app.json",
        &[
            ("/environment/TEXT_TRUE/required", Converted),
            ("/environment/TEXT_TRUE/defval", Converted),
            ("/environment/TEXT_FALSE/required", Converted),
            ("/environment/TEXT_FALSE/defval", Converted),
            ("/environment/EMPTY/required", Converted),
            ("/environment/EMPTY/defval", Converted),
            ("/environment/NUMERIC/required", Converted),
            ("/environment/NUMERIC/defval", Converted),
            ("/environment/GIBBERISH/required", Ignored),
            ("/environment/GIBBERISH/defval", Ignored),
        ],
        &[
            "/environment/TEXT_TRUE/required",
            "/environment/TEXT_FALSE/required",
            "/environment/EMPTY/required",
            "/environment/NUMERIC/required",
            "/environment/GIBBERISH/required",
        ],
    ),
    (
        "numbers_as_strings.app.json",
        &[("/version", Converted)],
        &["/version"],
    ),
    (
        "options_shapes.app.json",
        &[
            ("/environment/FROM_PAIRS/options/0", Converted),
            ("/environment/FROM_PAIRS/options/1", Converted),
        ],
        &[],
    ),
    ("hint_shapes.app.json", &[], &[]),
    ("localized_texts.app.json", &[], &[]),
    (
        "duplicate_keys.app.json",
        &[
            ("/environment/LEVEL", DuplicateKey),
            ("/exitCodes/2", DuplicateKey),
            ("/description", DuplicateKey),
        ],
        &[],
    ),
    ("macro_spellings.app.json", &[], &[]),
    (
        "exit_code_shapes.app.json",
        &[
            ("/exitCodes/3/retry", Converted),
            ("/exitCodes/5", Converted),
            ("/exitCodes/6", Converted),
            ("/exitCodes/x", Ignored),
            ("/exitcodes", Ignored),
        ],
        &[
            "/exitCodes/3/retry",
            "/exitCodes/5",
            "/exitCodes/6/description",
            "/exitCodes/6/en",
            "/exitCodes/6/cs",
            "/exitCodes/x",
        ],
    ),
    (
        "empty_images.app.json",
        &[],
        &["/$schema", "/homepage", "/ociimage"],
    ),
    (
        "artifacts.app.json",
        &[("/artifacts/2", Ignored)],
        &["/artifacts/2/path"],
    ),
    (
        "artifact_notations.app.json",
        &[
            ("/artifacts/2/path", Converted),
            ("/artifacts/4/path", NeverMatches),
            ("/artifacts/5/path", NeverMatches),
            ("/artifacts/6/path", Ignored),
        ],
        &[],
    ),
    (
        "top_level_fields.app.json",
        &[
            ("/API_TOKEN", KeyAlias),
            ("/API_URL", Ignored),
            ("/DEBUG", Ignored),
        ],
        &[],
    ),
    (
        "executable_with_spaces.app.json",
        &[("/executable", Converted)],
        &[],
    ),
];

#[test]
fn every_own_fixture_imports_with_exact_warnings_and_violations() {
    let listed: BTreeSet<String> = OWN.iter().map(|(n, _, _)| (*n).to_owned()).collect();
    let present: BTreeSet<String> = files_in(&own_dir()).iter().map(|p| file_name(p)).collect();
    assert_eq!(present, listed, "every own fixture needs an expectation");
    for (name, w, violations) in OWN {
        let bytes = own(name);
        let imported = import(&bytes);
        assert_eq!(warnings(&imported), expected(w), "{name} warnings");
        assert_eq!(violation_paths(&bytes), *violations, "{name} violations");
        assert_round_trip(&imported.app);
    }
}

#[test]
fn own_rejected_fixtures_fail_precisely() {
    let cases: &[(&str, &str)] = &[
        (
            "trailing_comma.app.json",
            "not valid JSON: trailing comma at line 6, column 3",
        ),
        (
            "empty_file.app.json",
            "not valid JSON: EOF while parsing a value at line 1, column 0",
        ),
        (
            "top_level_array.app.json",
            "an application definition must be a JSON object, found array",
        ),
        (
            "no_name.app.json",
            "no application name: \"name\" is missing",
        ),
        (
            "blank_name.app.json",
            "no application name: \"name\" is empty",
        ),
        (
            "no_executable.app.json",
            "no executable: \"executable\" is missing",
        ),
        (
            "executable_object.app.json",
            "no executable: \"executable\" must be text (a program name or path), found object",
        ),
        (
            "merge_conflict.app.json",
            "unresolved merge-conflict markers (\"<<<<<<<\" at line 3): the file was committed \
             in the middle of a merge; keep one side, remove the marker lines and import it again",
        ),
    ];
    let dir = own_dir().join("rejected");
    let present: BTreeSet<String> = files_in(&dir).iter().map(|p| file_name(p)).collect();
    let listed: BTreeSet<String> = cases.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        present, listed,
        "every rejected fixture needs an expectation"
    );
    for (name, message) in cases {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let err = parse_app(&bytes).expect_err(name);
        assert_eq!(err.to_string(), *message, "{name}");
        assert!(
            !validate(&bytes).is_empty(),
            "{name} must also fail validation"
        );
    }
    let err = parse_app(&std::fs::read(dir.join("no_name.app.json")).unwrap()).unwrap_err();
    assert_eq!(err.path(), "/name");
}

#[test]
fn topics_and_requirements_as_comma_strings() {
    let app = import(&own("topics_comma_string.app.json")).app;
    assert_eq!(app.tags, ["Backup", "Nightly", "Files"]);
    let app = import(&own("topics_list.app.json")).app;
    assert_eq!(app.tags, ["Logs", "Housekeeping"]);
    let app = import(&own("requirements_comma_string.app.json")).app;
    assert_eq!(app.requirements, ["AbraFlexi", "Mail"]);
}

#[test]
fn tags_win_over_topics() {
    let both = br#"{"name":"n","executable":"e","tags":["a"],"topics":"b"}"#;
    let imported = import(both);
    assert_eq!(imported.app.tags, ["a"]);
    assert_eq!(warnings(&imported), expected(&[("/topics", Ignored)]));
    let same = br#"{"name":"n","executable":"e","tags":["a","b"],"topics":"a, b"}"#;
    assert!(import(same).warnings.is_empty());
}

#[test]
fn cmdparams_template_is_used_only_without_cmdparams() {
    let app = import(&own("cmdparams_template.app.json")).app;
    assert_eq!(app.cmdparams, "-a ${SOURCE_DIR}/ ${TARGET_DIR}");
    let both = br#"{"name":"n","executable":"e","cmdparams":"{A}","cmdparamsTemplate":"${B}"}"#;
    let imported = import(both);
    assert_eq!(imported.app.cmdparams, "{A}");
    assert_eq!(
        warnings(&imported),
        expected(&[("/cmdparamsTemplate", Ignored)])
    );
}

#[test]
fn legacy_types_map_to_the_nearest() {
    let app = import(&own("env_type_spellings.app.json")).app;
    for (name, kind) in [
        ("AS_BOOLEAN", EnvFieldType::Bool),
        ("AS_CHECKBOX", EnvFieldType::Bool),
        ("AS_SWITCH", EnvFieldType::Bool),
        ("AS_INT", EnvFieldType::Integer),
        ("AS_NUMBER", EnvFieldType::Integer),
        ("AS_SELECT", EnvFieldType::Set),
        ("AS_FILE", EnvFieldType::FilePath),
        ("AS_DIRECTORY", EnvFieldType::FilePath),
        ("NO_TYPE", EnvFieldType::String),
        ("AS_COLOUR", EnvFieldType::String),
        ("AS_PASSWORD", EnvFieldType::Password),
        ("AS_TOKEN", EnvFieldType::String),
    ] {
        assert_eq!(field(&app, name).kind, kind, "{name}");
    }
    assert_eq!(field(&app, "AS_CHECKBOX").default.as_deref(), Some("true"));
    assert_eq!(field(&app, "AS_NUMBER").default.as_deref(), Some("7"));
    assert!(field(&app, "AS_PASSWORD").secret);
    assert!(field(&app, "AS_TOKEN").secret);
    assert!(!field(&app, "NO_TYPE").secret);
}

#[test]
fn artifact_paths_in_three_notations() {
    use multiflexi_core::artifact::{PatternKind, classify};
    let imported = import(&own("artifact_notations.app.json"));
    let paths: Vec<(&str, PatternKind)> = imported
        .app
        .artifacts
        .iter()
        .map(|a| (a.path.as_str(), classify(&a.path)))
        .collect();
    assert_eq!(
        paths,
        [
            ("out/*.csv", PatternKind::Glob),
            (".*\\.json$", PatternKind::Regex),
            ("bank_import_report_{\\d+}.json$", PatternKind::Regex),
            ("${RESULT_FILE}", PatternKind::Macro),
            ("${SUMMARY_FILE}", PatternKind::Macro),
            ("/var/log/*.log", PatternKind::Glob),
        ],
        "the broken expression is left out, the others kept as written"
    );
    let message = |path: &str| {
        imported
            .warnings
            .iter()
            .find(|w| w.path == path)
            .map(|w| w.message.clone())
            .unwrap()
    };
    assert!(message("/artifacts/4/path").contains("SUMMARY_FILE, which the app does not declare"));
    assert!(message("/artifacts/5/path").contains("absolute path"));
    assert!(
        message("/artifacts/6/path").starts_with(
            "\"report_(\\\\d+.json$\" is read as a regular expression and is not valid:"
        ),
        "{}",
        message("/artifacts/6/path")
    );
}

#[test]
fn top_level_fields_are_read_or_reported() {
    let imported = import(&own("top_level_fields.app.json"));
    let names: Vec<&str> = imported
        .app
        .environment
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["API_URL", "API_TOKEN"]);
    let token = field(&imported.app, "API_TOKEN");
    assert!(token.required && token.secret, "{token:?}");
    assert_eq!(
        field(&imported.app, "API_URL").description,
        LocalizedText::plain("the API"),
        "the definition under environment wins"
    );
    let debug = imported
        .warnings
        .iter()
        .find(|w| w.path == "/DEBUG")
        .unwrap();
    assert!(debug.message.contains("not a field definition"), "{debug}");
}

#[test]
fn executable_with_spaces_is_program_and_leading_arguments() {
    let imported = import(&own("executable_with_spaces.app.json"));
    assert_eq!(imported.app.executable, "python3");
    assert_eq!(imported.app.cmdparams, "src/main.py --days {DAYS}");
    assert_eq!(
        imported.warnings[0].to_string(),
        "/executable: \"python3  src/main.py\" has spaces: the program is \"python3\" and \
         \"src/main.py\" go before \"cmdparams\" as its first arguments"
    );
}

#[test]
fn lost_duplicates_are_listed_for_validate_json() {
    use multiflexi_core::app_json::lost_duplicates;
    let lost = lost_duplicates(&own("duplicate_keys.app.json"));
    let paths: Vec<&str> = lost.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/environment/LEVEL", "/exitCodes/2", "/description"]
    );
    assert!(lost_duplicates(&own("modern_minimal.app.json")).is_empty());
    let conflict = std::fs::read(own_dir().join("rejected/merge_conflict.app.json")).unwrap();
    let v = validate(&conflict);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].message
            .starts_with("unresolved merge-conflict markers"),
        "{}",
        v[0]
    );
}

#[test]
fn booleans_in_every_spelling() {
    let app = import(&own("boolean_spellings.app.json")).app;
    for (name, default, required) in [
        ("JSON_TRUE", "true", true),
        ("TEXT_TRUE", "true", true),
        ("TEXT_FALSE", "false", false),
        ("EMPTY", "false", false),
        ("NUMERIC", "true", true),
    ] {
        let f = field(&app, name);
        assert_eq!(
            (f.default.as_deref(), f.required),
            (Some(default), required),
            "{name}"
        );
    }
    // A bool field's default that spells no boolean is left out, with a warning that says so.
    let imported = import(&own("boolean_spellings.app.json"));
    let f = field(&imported.app, "GIBBERISH");
    assert_eq!((f.default.as_deref(), f.required), (None, false));
    let w = imported
        .warnings
        .iter()
        .find(|w| w.path == "/environment/GIBBERISH/defval")
        .unwrap();
    assert_eq!(
        w.message,
        "the default of a bool field must be true or false, found text \"perhaps\"; the field \
         has no default"
    );
}

#[test]
fn numbers_as_strings_and_strings_as_numbers() {
    let app = import(&own("numbers_as_strings.app.json")).app;
    assert_eq!(app.version.as_deref(), Some("2"));
    for (name, default) in [
        ("LIMIT", "100"),
        ("STEP", "5"),
        ("RATIO", "0.25"),
        ("EMPTY_NUMBER", ""),
    ] {
        assert_eq!(
            field(&app, name).default.as_deref(),
            Some(default),
            "{name}"
        );
    }
    let exported = export_app_pretty(&app);
    assert!(exported.contains(r#""defval": 100"#), "{exported}");
    assert!(exported.contains(r#""defval": 0.25"#), "{exported}");
    assert!(exported.contains(r#""defval": """#), "{exported}");
}

#[test]
fn options_as_array_object_and_pairs() {
    let app = import(&own("options_shapes.app.json")).app;
    let pairs = |f: &str| -> Vec<(String, String)> { field(&app, f).options.clone() };
    let same = |v: &[&str]| -> Vec<(String, String)> {
        v.iter()
            .map(|s| ((*s).to_owned(), (*s).to_owned()))
            .collect()
    };
    assert_eq!(pairs("FROM_ARRAY"), same(&["pdf", "xml", "csv"]));
    assert_eq!(
        pairs("FROM_OBJECT"),
        [("m", "Monthly"), ("w", "Weekly"), ("d", "Daily")]
            .map(|(v, l)| (v.to_owned(), l.to_owned()))
    );
    assert_eq!(
        pairs("FROM_PAIRS"),
        [("1", "One"), ("2", "2")].map(|(v, l)| (v.to_owned(), l.to_owned()))
    );
}

#[test]
fn hints_and_localized_texts_keep_all_languages() {
    let app = import(&own("hint_shapes.app.json")).app;
    assert_eq!(
        field(&app, "PLAIN_HINT").hint,
        LocalizedText::plain("e.g. CZK")
    );
    assert_eq!(
        field(&app, "LOCALIZED_HINT").hint,
        texts(&[("cs", "např. EUR"), ("en", "e.g. EUR")])
    );
    let app = import(&own("localized_texts.app.json")).app;
    assert_eq!(app.name.0.len(), 3);
    assert_eq!(app.display_name(), "Statement Downloader");
    assert_eq!(app.name.get("de"), Some("Kontoauszug-Downloader"));
    assert_eq!(app.description.get("cs"), Some("Stahuje bankovní výpisy"));
    assert_eq!(
        field(&app, "ACCOUNT").description,
        texts(&[("cs", "Číslo účtu"), ("en", "Account number")])
    );
}

#[test]
fn duplicate_keys_last_wins_in_first_position() {
    let imported = import(&own("duplicate_keys.app.json"));
    let app = &imported.app;
    assert_eq!(app.description, LocalizedText::plain("second description"));
    let names: Vec<&str> = app.environment.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["LEVEL", "OTHER"]);
    let level = field(app, "LEVEL");
    assert_eq!(
        (level.kind, level.default.as_deref()),
        (EnvFieldType::Integer, Some("3"))
    );
    assert_eq!(
        app.exit_codes[&2],
        ExitCodeInfo::new("second meaning", true)
    );
    assert!(imported.warnings.iter().all(|w| {
        w.message
            .contains("appears 2 times with different values; the last occurrence is used")
    }));
}

#[test]
fn macro_spellings_are_kept_as_written() {
    let app = import(&own("macro_spellings.app.json")).app;
    assert_eq!(app.cmdparams, "{INPUT} {{ OUTPUT }} ${MODE} {INPUT}{MODE}");
    assert_eq!(
        field(&app, "OUTPUT").default.as_deref(),
        Some("{INPUT}.out")
    );
}

#[test]
fn exit_codes_in_every_shape() {
    let app = import(&own("exit_code_shapes.app.json")).app;
    let codes: Vec<i32> = app.exit_codes.keys().copied().collect();
    assert_eq!(
        codes,
        [0, 3, 4, 5, 6],
        "x and the lowercase table are not read"
    );
    let done = &app.exit_codes[&0];
    assert_eq!(
        (done.severity.as_deref(), done.retry),
        (Some("success"), false)
    );
    let busy = &app.exit_codes[&3];
    assert_eq!(busy.description.get("cs"), Some("Server je zaneprázdněn"));
    assert!(busy.retry);
    assert_eq!(app.exit_codes[&4], ExitCodeInfo::new("No data", false));
    assert_eq!(app.exit_codes[&5], ExitCodeInfo::new("Bare text", false));
    assert_eq!(
        app.exit_codes[&6].description,
        texts(&[("cs", "Holý lokalizovaný"), ("en", "Bare localized")])
    );
}

#[test]
fn empty_images_and_null_homepage_are_absent() {
    let app = import(&own("empty_images.app.json")).app;
    assert_eq!(
        (&app.ociimage, &app.homepage, &app.setup),
        (&None, &None, &None)
    );
    assert_eq!(app.cmdparams, "");
}

#[test]
fn artifacts_are_kept_and_pathless_ones_dropped() {
    let app = import(&own("artifacts.app.json")).app;
    assert_eq!(app.artifacts.len(), 2);
    assert_eq!(app.artifacts[0].path, "report_*.json");
    assert_eq!(app.artifacts[0].name.get("cs"), Some("Zpráva"));
    assert_eq!(
        app.artifacts[0].description,
        LocalizedText::plain("One per run")
    );
    assert_eq!(
        app.artifacts[1],
        ArtifactPattern::new("run.log", "text").tap_name("Log")
    );
}

trait TapName {
    fn tap_name(self, name: &str) -> Self;
}

impl TapName for ArtifactPattern {
    fn tap_name(mut self, name: &str) -> Self {
        self.name = LocalizedText::plain(name);
        self
    }
}

#[test]
fn export_has_the_modern_shape() {
    let app = import(&own("modern_minimal.app.json")).app;
    let value = export_app(&app);
    assert!(
        value["$schema"]
            .as_str()
            .unwrap()
            .ends_with("/schema/application.json")
    );
    assert_eq!(value["schemaVersion"], "3.4.0");
    assert_eq!(value["environment"]["TARGET_DIR"]["type"], "file-path");
    assert_eq!(value["environment"]["TARGET_DIR"]["required"], true);
    let text = export_app_pretty(&app);
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  \""))
        .map(|l| l.trim().split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "$schema",
            "schemaVersion",
            "uuid",
            "name",
            "description",
            "version",
            "tags",
            "requirements",
            "executable",
            "cmdparams",
            "environment"
        ]
    );
    assert!(text.ends_with("}\n"));
}

#[test]
fn non_password_secret_survives_export() {
    let app = App::new("Token user", "token-user")
        .with_field(EnvFieldDef::new("API_TOKEN", EnvFieldType::String).secret());
    let value = export_app(&app);
    assert_eq!(value["environment"]["API_TOKEN"]["secret"], true);
    assert_round_trip(&app);
}

#[test]
fn import_error_becomes_a_core_invalid_input() {
    let err = parse_app(br#"{"executable": "x"}"#).unwrap_err();
    let core: multiflexi_core::Error = err.into();
    assert!(matches!(
        &core,
        multiflexi_core::Error::InvalidInput { field, .. } if field == "/name"
    ));
}

#[test]
fn byte_order_mark_is_skipped_with_a_warning() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(&own("modern_minimal.app.json"));
    let imported = import(&bytes);
    assert_eq!(warnings(&imported), expected(&[("", Ignored)]));
    assert_eq!(imported.app, import(&own("modern_minimal.app.json")).app);
    assert_eq!(validate(&bytes), []);
}

#[test]
fn odd_shapes_do_not_panic() {
    for doc in [
        "{}",
        "null",
        "\"text\"",
        r#"{"name":1,"executable":true}"#,
        r#"{"name":"n","executable":"e","environment":[]}"#,
        r#"{"name":"n","executable":"e","environment":"A,B"}"#,
        r#"{"name":"n","executable":"e","environment":{"":{},"A=B":{},"C":"x","D":null}}"#,
        r#"{"name":"n","executable":"e","environment":{"A":{"type":5,"options":"x, y","defval":[1]}}}"#,
        r#"{"name":"n","executable":"e","exitCodes":[],"artifacts":"a.json, b.csv","tags":7}"#,
        r#"{"name":"n","executable":"e","exitCodes":{"99999999999":{"description":"big"}}}"#,
        r#"{"name":"n","executable":"e","artifacts":{"pattern":"*.json"}}"#,
        r#"{"name":{"en":["x"]},"executable":"e"}"#,
    ] {
        let _ = parse_app(doc.as_bytes());
        let _ = validate(doc.as_bytes());
    }
    let deep = "[".repeat(10_000);
    assert!(matches!(
        parse_app(deep.as_bytes()),
        Err(ImportError::NotJson { .. })
    ));
    assert_eq!(validate(deep.as_bytes()).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Property: export then import gives back every field we keep.

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,._/-]{0,12}",
        "\\PC{0,12}",
        Just("{VAR} {{ OTHER }} ${THIRD}".to_owned()),
    ]
}

fn nonempty_text() -> impl Strategy<Value = String> {
    text_strategy().prop_filter("non-empty", |s| !s.is_empty())
}

fn nonblank_text() -> impl Strategy<Value = String> {
    text_strategy().prop_filter("non-blank", |s| !s.trim().is_empty())
}

/// Localized text as import produces it: no text, one untagged text, or languages.
fn localized_strategy() -> impl Strategy<Value = LocalizedText> {
    prop_oneof![
        Just(LocalizedText::default()),
        nonempty_text().prop_map(LocalizedText::plain),
        proptest::collection::btree_map(
            prop_oneof![Just("en"), Just("cs"), Just("de"), Just("sk")].prop_map(str::to_owned),
            text_strategy(),
            1..4
        )
        .prop_map(LocalizedText),
    ]
}

fn name_strategy() -> impl Strategy<Value = LocalizedText> {
    prop_oneof![
        nonblank_text().prop_map(LocalizedText::plain),
        (nonblank_text(), proptest::option::of(text_strategy())).prop_map(|(en, cs)| {
            let mut t = LocalizedText(BTreeMap::from([("en".to_owned(), en)]));
            if let Some(cs) = cs {
                t.0.insert("cs".to_owned(), cs);
            }
            t
        }),
    ]
}

fn kind_strategy() -> impl Strategy<Value = EnvFieldType> {
    proptest::sample::select(EnvFieldType::ALL.to_vec())
}

fn default_strategy(kind: EnvFieldType) -> BoxedStrategy<Option<String>> {
    match kind {
        EnvFieldType::Bool => {
            proptest::option::of(prop_oneof![Just("true"), Just("false")].prop_map(str::to_owned))
                .boxed()
        }
        EnvFieldType::Integer => proptest::option::of(prop_oneof![
            any::<i64>().prop_map(|i| i.to_string()),
            Just("007".to_owned()),
            Just("+5".to_owned()),
            text_strategy(),
        ])
        .boxed(),
        EnvFieldType::Float => proptest::option::of(prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            Just("1e3".to_owned()),
            Just("0.25".to_owned()),
            text_strategy(),
        ])
        .boxed(),
        _ => proptest::option::of(text_strategy()).boxed(),
    }
}

fn field_strategy() -> impl Strategy<Value = EnvFieldDef> {
    (
        "[A-Z][A-Z0-9_]{0,8}",
        kind_strategy(),
        any::<bool>(),
        any::<bool>(),
        localized_strategy(),
        localized_strategy(),
        proptest::collection::btree_map("[a-z0-9]{1,5}", text_strategy(), 0..4),
        any::<bool>(),
    )
        .prop_flat_map(
            |(name, kind, required, secret, description, hint, options, labelled)| {
                default_strategy(kind).prop_map(move |default| {
                    let mut f = EnvFieldDef::new(name.clone(), kind);
                    f.required = required;
                    f.secret |= secret;
                    f.description = description.clone();
                    f.hint = hint.clone();
                    f.default = default;
                    f.options = options
                        .iter()
                        .map(|(v, l)| (v.clone(), if labelled { l.clone() } else { v.clone() }))
                        .collect();
                    f
                })
            },
        )
}

fn artifact_strategy() -> impl Strategy<Value = ArtifactPattern> {
    (
        localized_strategy(),
        text_strategy(),
        text_strategy(),
        localized_strategy(),
    )
        .prop_map(|(name, _, kind, description)| (name, kind, description))
        .prop_flat_map(|(name, kind, description)| {
            (
                Just((name, kind, description)),
                prop_oneof![
                    "[a-z0-9_-]{1,8}(/[a-z0-9_-]{1,8})?[*?]?\\.[a-z]{1,4}",
                    Just(".*\\.json$".to_owned()),
                    Just("^out/[a-z]+\\.csv$".to_owned()),
                    Just("report_\\d{4}\\.txt$".to_owned()),
                ],
            )
        })
        .prop_map(|((name, kind, description), path)| {
            let mut a = ArtifactPattern::new(path, kind);
            a.name = name;
            a.description = description;
            a
        })
}

fn exit_code_strategy() -> impl Strategy<Value = ExitCodeInfo> {
    (
        localized_strategy(),
        proptest::option::of(proptest::sample::select(vec![
            "success", "info", "warning", "error", "critical",
        ])),
        any::<bool>(),
    )
        .prop_map(|(description, severity, retry)| {
            let mut info = ExitCodeInfo::new("", retry);
            info.description = description;
            info.severity = severity.map(str::to_owned);
            info
        })
}

fn version_strategy() -> impl Strategy<Value = String> {
    "(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){0,3}"
}

fn app_strategy() -> impl Strategy<Value = App> {
    let identity = (
        name_strategy(),
        localized_strategy(),
        "[a-z/][a-z0-9/_.-]{0,15}",
        text_strategy(),
        proptest::option::of("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        proptest::option::of(version_strategy()),
        proptest::option::of("[a-z0-9.]{1,10}/[a-z0-9_-]{1,10}(:[a-z0-9.]{1,5})?"),
        proptest::option::of(nonempty_text()),
        proptest::option::of("https://[a-z]{1,10}\\.example/[a-z]{0,5}"),
    );
    let parts = (
        proptest::collection::vec(nonempty_text(), 0..4),
        proptest::collection::vec(nonempty_text(), 0..3),
        proptest::collection::vec(field_strategy(), 0..6),
        proptest::collection::vec(artifact_strategy(), 0..3),
        proptest::collection::btree_map(0i32..=255, exit_code_strategy(), 0..4),
    );
    (identity, parts).prop_map(
        |(
            (name, description, executable, cmdparams, uuid, version, ociimage, setup, homepage),
            (tags, requirements, fields, artifacts, exit_codes),
        )| {
            let mut app = App::new("", executable).with_cmdparams(cmdparams);
            app.name = name;
            app.description = description;
            app.uuid = uuid;
            app.version = version;
            app.ociimage = ociimage;
            app.setup = setup;
            app.homepage = homepage;
            app.tags = tags;
            app.requirements = requirements;
            let mut seen = BTreeSet::new();
            app.environment = fields
                .into_iter()
                .filter(|f| seen.insert(f.name.clone()))
                .collect();
            app.artifacts = artifacts;
            app.exit_codes = exit_codes;
            app
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn export_then_import_round_trips(app in app_strategy()) {
        let text = export_app_pretty(&app);
        let back = parse_app(text.as_bytes()).unwrap();
        prop_assert_eq!(&back.app, &app, "{}", text);
        prop_assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        prop_assert_eq!(validate(text.as_bytes()), vec![]);
        let value = export_app(&app);
        let via_value = parse_app(&serde_json::to_vec(&value).unwrap()).unwrap().app;
        prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
        // `Value` may sort keys: same fields, possibly in another order.
        let mut a = via_value.environment.clone();
        let mut b = app.environment.clone();
        for f in a.iter_mut().chain(b.iter_mut()) {
            f.options.sort();
        }
        a.sort_by(|x, y| x.name.cmp(&y.name));
        b.sort_by(|x, y| x.name.cmp(&y.name));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn import_and_validate_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_app(&bytes);
        let _ = validate(&bytes);
    }
}

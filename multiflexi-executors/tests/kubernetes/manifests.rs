//! Every manifest of `deploy/kubernetes/` parses into its k8s-openapi type (a typo in a field
//! name or a value of the wrong type fails here), and the parts the executor depends on say what
//! they must.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default)]
struct Manifests {
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    deployments: Vec<Deployment>,
    secrets: Vec<Secret>,
    files: usize,
}

/// Deserializes into `T`, refusing fields `T` does not have (k8s-openapi ignores them, the API
/// server's strict field validation does not): the value must survive a round trip.
fn strict<T: DeserializeOwned + serde::Serialize>(doc: &serde_yaml::Value, what: &str) -> T {
    let typed: T = serde_yaml::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{what} does not parse: {e}"));
    let back = serde_yaml::to_value(&typed).unwrap();
    assert_same(doc, &back, what, "");
    typed
}

/// Every key of `doc` exists in `back` (the typed value serialized again).
fn assert_same(doc: &serde_yaml::Value, back: &serde_yaml::Value, what: &str, path: &str) {
    use serde_yaml::Value as V;
    match (doc, back) {
        (V::Mapping(d), V::Mapping(b)) => {
            for (k, v) in d {
                let key = k.as_str().unwrap_or("?");
                let p = format!("{path}.{key}");
                // Secret stringData is write-only in k8s-openapi too; data may be empty.
                let Some(bv) = b.get(k) else {
                    panic!("{what}: unknown field {p}")
                };
                assert_same(v, bv, what, &p);
            }
        }
        (V::Sequence(d), V::Sequence(b)) => {
            assert_eq!(d.len(), b.len(), "{what}: {path}");
            for (i, (dv, bv)) in d.iter().zip(b).enumerate() {
                assert_same(dv, bv, what, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

fn load() -> Manifests {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut m = Manifests::default();
    for path in paths {
        m.files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, de) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let doc = serde_yaml::Value::deserialize(de)
                .unwrap_or_else(|e| panic!("{}: document {i}: {e}", path.display()));
            if doc.is_null() {
                continue;
            }
            let kind = doc
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or_else(|| panic!("{}: document {i} has no kind", path.display()))
                .to_owned();
            let what = format!("{} document {i} ({kind})", path.display());
            match kind.as_str() {
                "Namespace" => m.namespaces.push(strict(&doc, &what)),
                "ServiceAccount" => m.service_accounts.push(strict(&doc, &what)),
                "Role" => m.roles.push(strict(&doc, &what)),
                "RoleBinding" => m.role_bindings.push(strict(&doc, &what)),
                "Deployment" => m.deployments.push(strict(&doc, &what)),
                "Secret" => m.secrets.push(strict(&doc, &what)),
                other => panic!("{what}: kind {other} is not expected here"),
            }
        }
    }
    m
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(groups.iter().map(|s| (*s).to_owned()).collect()),
        resources: Some(resources.iter().map(|s| (*s).to_owned()).collect()),
        verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

#[test]
fn every_manifest_parses_into_k8s_openapi_types() {
    let m = load();
    assert!(m.files >= 5, "{m:?}");
    assert_eq!(m.namespaces.len(), 1);
    let ns = m.namespaces[0].metadata.name.clone().unwrap();
    for meta in m
        .service_accounts
        .iter()
        .map(|x| &x.metadata)
        .chain(m.roles.iter().map(|x| &x.metadata))
        .chain(m.role_bindings.iter().map(|x| &x.metadata))
        .chain(m.deployments.iter().map(|x| &x.metadata))
        .chain(m.secrets.iter().map(|x| &x.metadata))
    {
        assert_eq!(meta.namespace.as_deref(), Some(ns.as_str()), "{meta:?}");
    }
}

#[test]
fn the_role_allows_exactly_what_the_executor_needs() {
    let m = load();
    assert_eq!(m.roles.len(), 1);
    let role = &m.roles[0];
    assert_eq!(
        role.rules.clone().unwrap(),
        vec![
            rule(&["batch"], &["jobs"], &["create", "get", "list", "delete"]),
            rule(&[""], &["secrets"], &["create", "list", "delete"]),
            rule(&[""], &["pods"], &["list", "watch"]),
            rule(&[""], &["pods/log"], &["get"]),
        ]
    );
    let binding = &m.role_bindings[0];
    assert_eq!(binding.role_ref.name, role.metadata.name.clone().unwrap());
    let executor = m
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("multiflexi-executor"))
        .expect("the executor Deployment");
    let account = executor
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.service_account_name.clone())
        .expect("the executor runs as a service account");
    let subjects = binding.subjects.clone().unwrap();
    assert!(subjects.iter().any(|s| s.name == account), "{subjects:?}");
}

#[test]
fn deployments_are_configured_by_the_environment() {
    let m = load();
    let by_name: BTreeMap<String, &Deployment> = m
        .deployments
        .iter()
        .map(|d| (d.metadata.name.clone().unwrap(), d))
        .collect();
    let replicas = |n: &str| by_name[n].spec.as_ref().unwrap().replicas.unwrap_or(1);
    assert_eq!(replicas("multiflexi-scheduler"), 1);
    assert!(replicas("multiflexi-executor") > 1);
    for (name, d) in &by_name {
        let spec = d.spec.as_ref().unwrap();
        let selector = spec.selector.match_labels.clone().unwrap();
        let labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap();
        assert!(
            selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{name}: the selector does not match the template"
        );
        let container = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(container.command.as_ref().unwrap()[0], *name);
        let env = container.env.clone().unwrap();
        let db = env
            .iter()
            .find(|e| e.name == "DATABASE_URL")
            .unwrap_or_else(|| panic!("{name}: no DATABASE_URL"));
        assert!(db.value.is_none(), "{name}: the database URL is inline");
        let key = db
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .unwrap_or_else(|| panic!("{name}: DATABASE_URL is not from a Secret"));
        assert_eq!(key.name, "multiflexi-db");
        for e in &env {
            assert!(
                e.name.starts_with("MULTIFLEXI_")
                    || e.name == "DATABASE_URL"
                    || e.name == "RUST_LOG",
                "{name}: {} is not one of ARCHITECTURE §10's variables",
                e.name
            );
        }
    }
}

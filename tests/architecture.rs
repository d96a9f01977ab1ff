//! The "Architecture Invariant:" lines of `ARCHITECTURE.md`, checked on the
//! source itself: which top-level module may use which, that no two of them
//! depend on each other (directly or round a longer circle), and which
//! crates each layer may name. A change that breaks one fails here with the
//! file and line that did it.
//!
//! The check reads `src/` as text: a module "uses" another when a line that
//! is not a comment names `crate::other`, and "names" a crate when it names
//! `other::` — outside `#[cfg(test)]` code, which may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One non-comment line of non-test code: (file, line number, text).
struct Line {
    file: String,
    number: usize,
    text: String,
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file belongs to (`src/daemon/worker/mod.rs` →
/// `daemon`), or `None` for `lib.rs` and `main.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The lines of the crate's non-test code, by top-level module. A file's
/// test code starts at its first `#[cfg(test)]` (the house style puts the
/// tests module last); a file that is only tests (`worker/tests.rs`) is
/// left out.
fn lines_by_module() -> BTreeMap<String, Vec<Line>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, Vec<Line>> = BTreeMap::new();
    for file in rust_files(&src) {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let shown = file.strip_prefix(src.parent().unwrap()).unwrap();
        let lines = out.entry(module).or_default();
        for (i, line) in code.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("//") {
                continue;
            }
            lines.push(Line {
                file: shown.display().to_string(),
                number: i + 1,
                text: line.to_string(),
            });
        }
    }
    out
}

/// `crate::NAME` references on a line.
fn crate_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `$crate::` in macros and `ferry_crate::` are not this crate.
        let before = &rest[..i];
        let ours =
            !before.ends_with('$') && !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
        if ours && !name.is_empty() {
            out.push(name);
        }
        rest = after;
    }
    out
}

/// Which module uses which, each edge with the first line that makes it.
fn module_graph(
    modules: &BTreeMap<String, Vec<Line>>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, lines) in modules {
        let edges = graph.entry(module.clone()).or_default();
        for line in lines {
            for target in crate_refs(&line.text) {
                if &target != module && modules.contains_key(&target) {
                    edges
                        .entry(target)
                        .or_insert_with(|| format!("{}:{}", line.file, line.number));
                }
            }
        }
    }
    graph
}

/// The lines of `module` that name any of `names` (as `name::` or in a
/// `use name`), for the "may not name" rules.
fn naming<'a>(lines: &'a [Line], names: &[&str]) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|l| {
            names.iter().any(|n| {
                let t = &l.text;
                t.contains(&format!("{n}::"))
                    && !t.contains(&format!("_{n}::"))
                    && !t.contains(&format!("crate::{n}"))
            })
        })
        .collect()
}

fn show(lines: &[&Line]) -> String {
    lines
        .iter()
        .map(|l| format!("  {}:{}: {}", l.file, l.number, l.text.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_two_modules_depend_on_each_other_even_round_a_longer_circle() {
    let modules = lines_by_module();
    let graph = module_graph(&modules);
    // Depth-first search for a back edge; report the circle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut circle = path[i..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            let why: Vec<String> = circle
                .windows(2)
                .map(|w| format!("  {} -> {} ({})", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            panic!(
                "modules depend on each other in a circle:\n{}",
                why.join("\n")
            );
        }
    }
}

#[test]
fn each_module_uses_only_the_layers_beneath_it() {
    let modules = lines_by_module();
    let graph = module_graph(&modules);
    // What each module must never use. The engine is pure; the contract
    // knows only the saved schema; the daemon knows no user interface and
    // no HTTP server; nothing but the entry points knows the CLI.
    let forbidden: &[(&str, &[&str])] = &[
        (
            "engine",
            &[
                "accounts",
                "api",
                "app",
                "autostart",
                "cli",
                "config",
                "daemon",
                "diagnostics",
                "fsops",
                "journal",
                "logging",
                "memory",
                "pass",
                "pass_report",
                "protocol",
                "remote",
                "secrets",
                "tray",
                "watch",
            ],
        ),
        (
            "protocol",
            &[
                "accounts",
                "api",
                "app",
                "autostart",
                "cli",
                "daemon",
                "engine",
                "journal",
                "pass",
                "pass_report",
                "remote",
                "tray",
            ],
        ),
        // The desktop (auto-start) is the app's and the API's, not the daemon's.
        ("daemon", &["api", "app", "autostart", "cli", "tray"]),
        (
            "pass",
            &[
                "api",
                "app",
                "autostart",
                "cli",
                "daemon",
                "protocol",
                "tray",
            ],
        ),
        (
            "remote",
            &[
                "api",
                "app",
                "autostart",
                "cli",
                "daemon",
                "pass",
                "protocol",
                "tray",
            ],
        ),
        (
            "journal",
            &[
                "api",
                "app",
                "autostart",
                "cli",
                "daemon",
                "pass",
                "protocol",
                "remote",
                "tray",
            ],
        ),
        ("api", &["app", "cli", "tray"]),
        // The tray reaches the daemon only through the protocol.
        (
            "tray",
            &[
                "accounts",
                "api",
                "app",
                "autostart",
                "config",
                "daemon",
                "engine",
                "journal",
                "pass",
                "remote",
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (module, never) in forbidden {
        for (target, line) in graph.get(*module).into_iter().flatten() {
            if never.contains(&target.as_str()) {
                wrong.push(format!("  {module} uses {target} ({line})"));
            }
        }
    }
    // Only the entry points (and the tray, which starts Ferry) use the CLI.
    for (module, edges) in &graph {
        if let Some(line) = edges.get("cli") {
            wrong.push(format!("  {module} uses cli ({line})"));
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_engine_does_no_io_and_reads_no_clock() {
    let modules = lines_by_module();
    let engine = &modules["engine"];
    let bad: Vec<&Line> = engine
        .iter()
        .filter(|l| {
            let t = &l.text;
            [
                "std::fs",
                "std::net",
                "std::process",
                "std::env",
                "tokio",
                "rusqlite",
                "reqwest",
                "notify::",
            ]
            .iter()
            .any(|n| t.contains(n))
                || t.contains("::now(")
                || t.contains("rand::")
        })
        .collect();
    assert!(
        bad.is_empty(),
        "I/O or a clock in the engine:\n{}",
        show(&bad)
    );
}

#[test]
fn only_the_journal_speaks_sql_and_only_webdav_and_the_contract_speak_http() {
    let modules = lines_by_module();
    let mut wrong = Vec::new();
    for (module, lines) in &modules {
        if module != "journal" {
            let sql = naming(lines, &["rusqlite"]);
            if !sql.is_empty() {
                wrong.push(format!("SQL outside the journal:\n{}", show(&sql)));
            }
        }
        // HTTP clients: the WebDAV remote, and the protocol's client of the
        // daemon. Parsing a URL (`reqwest::Url`) sends nothing.
        let http: Vec<&Line> = naming(lines, &["reqwest"])
            .into_iter()
            .filter(|l| {
                !l.file.starts_with("src/remote/webdav/") && !l.file.starts_with("src/protocol/")
            })
            .filter(|l| l.text.replace("reqwest::Url", "").contains("reqwest::"))
            .collect();
        if !http.is_empty() {
            wrong.push(format!(
                "an HTTP client outside remote::webdav and protocol:\n{}",
                show(&http)
            ));
        }
        if module != "api" && module != "protocol" {
            let server = naming(lines, &["axum"]);
            if !server.is_empty() {
                wrong.push(format!("the HTTP server outside api:\n{}", show(&server)));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn only_webdav_sends_webdav_requests() {
    let modules = lines_by_module();
    let bad: Vec<&Line> = modules
        .values()
        .flatten()
        .filter(|l| !l.file.starts_with("src/remote/webdav/"))
        .filter(|l| {
            [
                "\"PROPFIND\"",
                "b\"PROPFIND\"",
                "\"MKCOL\"",
                "\"MOVE\"",
                "multistatus",
            ]
            .iter()
            .any(|m| l.text.contains(m))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "WebDAV spoken outside remote::webdav:\n{}",
        show(&bad)
    );
}

#[test]
fn ferrys_reserved_names_are_spelled_only_in_engine_reserved() {
    let modules = lines_by_module();
    let bad: Vec<&Line> = modules
        .values()
        .flatten()
        .filter(|l| l.file != "src/engine/reserved.rs")
        // A string literal that makes or matches a `.ferry-` name; help
        // texts and messages name them in prose (with a space before).
        .filter(|l| l.text.contains("\".ferry-") || l.text.contains("\".ferry\""))
        .collect();
    assert!(
        bad.is_empty(),
        ".ferry-* names made outside engine::reserved:\n{}",
        show(&bad)
    );
}

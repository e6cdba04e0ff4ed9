//! The module layering written in README.md ("### Layers") holds: every top-level module of
//! `src/` has a layer, and non-test code only refers (`crate::<module>`) to modules on lower
//! layers. So the import graph of the top-level modules has no cycle, and a change that
//! reaches upward fails here with the file that does it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `module → layer`, from the README's "### Layers" block (lines `  <layer>  <a>, <b>`).
fn layers_from_readme() -> BTreeMap<String, u32> {
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README.md");
    let section = readme
        .split("\n### Layers\n")
        .nth(1)
        .expect("README.md has a \"### Layers\" section");
    let mut layers = BTreeMap::new();
    for line in section.lines().skip_while(|l| !l.starts_with("    ")) {
        if !line.starts_with("    ") {
            break;
        }
        let mut parts = line.trim().splitn(2, char::is_whitespace);
        let layer: u32 = parts
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a layer line starts with its number: {line:?}"));
        for module in parts.next().unwrap_or("").split(',') {
            let module = module.trim();
            assert!(!module.is_empty(), "empty module name in {line:?}");
            let before = layers.insert(module.to_string(), layer);
            assert!(before.is_none(), "{module} is listed twice");
        }
    }
    assert!(!layers.is_empty(), "the Layers block lists no module");
    layers
}

/// Removes `//` comments and every item marked `#[cfg(test)]` (a `mod x;` line or a braced
/// block). String literals are kept: an occasional `crate::` in one is rare and would only
/// make the check stricter.
fn production_code(text: &str) -> String {
    let without_comments: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = without_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        let semi = item.find(';');
        let brace = item.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => s + 1,
            (Some(s), None) => s + 1,
            (_, Some(b)) => b + matching_brace(&item[b..]),
            (None, None) => item.len(),
        };
        rest = &item[end.min(item.len())..];
    }
    out.push_str(rest);
    out
}

/// The offset just past the brace that closes the one `text` starts with.
fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Files that are test modules (`#[cfg(test)] mod x;`, with or without `#[path]`).
fn test_module_files(file: &Path, text: &str) -> Vec<PathBuf> {
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_string_lossy();
    let owner_dir = if ["mod", "lib", "main"].contains(&stem.as_ref()) {
        dir.to_path_buf()
    } else {
        dir.join(stem.as_ref())
    };
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let item = rest[at + "#[cfg(test)]".len()..].trim_start();
        let (path, item) = match item.strip_prefix("#[path = \"") {
            Some(p) => {
                let end = p.find('"').unwrap();
                (
                    Some(&p[..end]),
                    p[end..].split_once(']').unwrap().1.trim_start(),
                )
            }
            None => (None, item),
        };
        let item = item
            .strip_prefix("pub(crate) ")
            .or_else(|| item.strip_prefix("pub "))
            .unwrap_or(item);
        if let Some(decl) = item.strip_prefix("mod ") {
            let name: String = decl
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if decl[name.len()..].trim_start().starts_with(';') {
                match path {
                    Some(p) => found.push(dir.join(p)),
                    None => {
                        found.push(owner_dir.join(format!("{name}.rs")));
                        found.push(owner_dir.join(&name));
                    }
                }
            }
        }
        rest = &rest[at + 1..];
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// `crate::x` and `crate::{x, y}` references.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for piece in code.split("crate::").skip(1) {
        if let Some(group) = piece.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for name in group.split(',') {
                let name = ident(name.trim());
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name = ident(piece);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Every file (or folder) under `src` that only test builds compile.
fn test_only_paths(src: &Path) -> BTreeSet<PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut test_files = BTreeSet::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        test_files.extend(test_module_files(file, &text));
    }
    test_files
}

/// `(from, to) → files` for every reference between top-level modules in non-test code.
fn module_references(src: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let test_files = test_only_paths(src);
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        if test_files.iter().any(|t| file == t || file.starts_with(t)) {
            continue;
        }
        let from = top_module(src, file);
        if from == "main" || from == "lib" {
            continue;
        }
        let code = production_code(&fs::read_to_string(file).unwrap());
        for to in referenced_modules(&code) {
            if to != from {
                let rel = file.strip_prefix(src).unwrap().display().to_string();
                edges.entry((from.clone(), to)).or_default().insert(rel);
            }
        }
    }
    edges
}

#[test]
fn every_module_imports_only_lower_layers() {
    let layers = layers_from_readme();
    let src = Path::new(ROOT).join("src");
    let test_only = test_only_paths(&src);
    let mut modules = BTreeSet::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = top_module(&src, &path);
        if name != "main" && name != "lib" && !test_only.contains(&path) {
            modules.insert(name);
        }
    }
    let unlisted: Vec<_> = modules
        .iter()
        .filter(|m| !layers.contains_key(*m))
        .collect();
    assert!(
        unlisted.is_empty(),
        "modules without a layer in README.md's Layers block: {unlisted:?}"
    );
    let stale: Vec<_> = layers.keys().filter(|m| !modules.contains(*m)).collect();
    assert!(
        stale.is_empty(),
        "README.md's Layers block lists modules that do not exist: {stale:?}"
    );

    let mut violations = Vec::new();
    for ((from, to), files) in module_references(&src) {
        let (Some(&lf), Some(&lt)) = (layers.get(&from), layers.get(&to)) else {
            continue; // `crate::` followed by something that is not a module (a macro, say)
        };
        if lt >= lf {
            violations.push(format!(
                "{from} (layer {lf}) uses {to} (layer {lt}) in {}",
                files.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "imports that do not go down a layer:\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn the_checker_sees_references_and_skips_test_code() {
    let code = production_code(
        "use crate::a::B;\nuse crate::{c, d::E};\n// crate::comment\n\
         #[cfg(test)]\nmod tests {\n    use crate::hidden;\n    fn f() { if x { } }\n}\n\
         #[cfg(test)]\nmod sibling;\nfn g() { crate::f::h(); }\n",
    );
    let found: Vec<String> = referenced_modules(&code).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "f"]);
    let files = test_module_files(
        Path::new("/s/x/y.rs"),
        "#[cfg(test)]\n#[path = \"y_tests.rs\"]\nmod tests;\n#[cfg(test)]\npub(crate) mod util;\n",
    );
    assert_eq!(
        files,
        [
            PathBuf::from("/s/x/y_tests.rs"),
            PathBuf::from("/s/x/y/util.rs"),
            PathBuf::from("/s/x/y/util"),
        ]
    );
}

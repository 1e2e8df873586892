// The shape of the crate, checked. `src/` is read with `syn`; every reference from one module
// to another (a `use`, an inline `crate::`/`super::`/`self::` path, a path through a name a
// `use` or `mod` brought in, a path inside a macro call) becomes an edge between the two
// siblings under their nearest common parent: `crate::web::public` naming `crate::store::Store`
// is `web -> store` at the top level, `crate::store::backup` naming `super::keys::x` is
// `backup -> keys` inside `store`. A module naming its own parent or child is structure
// (`use super::Store`), not an edge. Test code is left out.
//
// No sibling graph may hold a circle that `KNOWN_CYCLES` does not list, and every listed circle
// must still exist, so the list only shrinks. The README's "Who imports whom" block is the
// top-level graph, generated here and compared.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::visit::Visit;

/// A circle that exists today and is being taken apart elsewhere.
struct KnownCycle {
    /// The parent whose children form the circle: `crate` for the top level.
    within: &'static str,
    /// Every module in the circle (its strongly connected component), sorted.
    modules: &'static [&'static str],
    /// Why it is still here.
    why: &'static str,
}

const KNOWN_CYCLES: &[KnownCycle] = &[KnownCycle {
    within: "crate::web::admin",
    modules: &["inbox", "submissions"],
    why: "the submission page and the inbox share attempt labels and bounce views; typed \
              admin views replace both",
}];

/// The README's generated block sits between these two lines.
const GRAPH_START: &str = "<!-- module-graph:start -->\n";
const GRAPH_END: &str = "<!-- module-graph:end -->\n";

#[test]
fn no_cycles_between_modules_beyond_the_known_ones() {
    let graph = crate_graph();
    if let Err(report) = check_cycles(&graph, KNOWN_CYCLES) {
        panic!("{report}");
    }
}

#[test]
fn readme_shows_the_graph_of_the_code() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let block = format!("```text\n{}```\n", top_level_text(&crate_graph()));
    let (start, end) = match (readme.find(GRAPH_START), readme.find(GRAPH_END)) {
        (Some(start), Some(end)) if start < end => (start + GRAPH_START.len(), end),
        _ => panic!("README.md has no {GRAPH_START:?} … {GRAPH_END:?} block"),
    };
    if readme[start..end] == block {
        return;
    }
    if std::env::var_os("KIPEKEE_BLESS").is_some_and(|value| value == "1") {
        let blessed = format!("{}{block}{}", &readme[..start], &readme[end..]);
        std::fs::write(&readme_path, blessed).expect("write README.md");
        return;
    }
    panic!(
        "README.md's \"Who imports whom\" block differs from the code. Paste this between \
         the module-graph markers, or run `KIPEKEE_BLESS=1 cargo test --test layering`:\n\n\
         {block}"
    );
}

/// The checker itself: a small tree with circles planted at two levels, one seen only through
/// a re-export, plus test code that would close a third and must not.
#[test]
fn the_checker_reports_a_planted_cycle() {
    let sources = BTreeMap::from(
        [
            (
                "src/lib.rs",
                "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\n#[cfg(test)]\nmod tests;\n",
            ),
            ("src/tests.rs", "use crate::d::f;\n"),
            // `use` one way, a path inside a macro call the other.
            (
                "src/a.rs",
                "use crate::b::helper;\npub fn run() { helper() }\n",
            ),
            (
                "src/b.rs",
                "pub fn helper() {\n    println!(\"{:?}\", crate::a::run());\n}\n",
            ),
            // An inline `super::` path one way, a name re-exported by the parent the other;
            // naming the parent itself (`super::f`) is structure.
            (
                "src/c/mod.rs",
                "mod x;\nmod y;\npub use x::Thing;\npub fn f() {}\n",
            ),
            (
                "src/c/x.rs",
                concat!(
                    "pub struct Thing;\n",
                    "pub fn g() {\n    super::y::h();\n    super::f();\n}\n",
                ),
            ),
            ("src/c/y.rs", "use super::Thing;\npub fn h() {}\n"),
            // Only test code names `d` from `e`: no circle.
            ("src/d.rs", "use crate::e::E;\npub fn f() {}\n"),
            (
                "src/e.rs",
                concat!(
                    "pub struct E;\n",
                    "#[cfg(test)]\nmod tests;\n",
                    "#[cfg(test)]\nmod inline {\n    use crate::d::f;\n}\n",
                    "#[test]\nfn t() {\n    crate::d::f();\n}\n",
                ),
            ),
            ("src/e/tests.rs", "use crate::d::f;\n"),
        ]
        .map(|(path, text)| (path.to_string(), text.to_string())),
    );
    let graph = Graph::from_sources(&sources).unwrap();
    let report = check_cycles(&graph, &[]).unwrap_err();
    assert!(report.contains("cycle in crate: a -> b -> a"), "{report}");
    assert!(report.contains("a -> b  src/a.rs:1"), "{report}");
    assert!(report.contains("b -> a  src/b.rs:2"), "{report}");
    assert!(
        report.contains("cycle in crate::c: x -> y -> x"),
        "{report}"
    );
    assert!(report.contains("y -> x  src/c/y.rs:1"), "{report}");
    assert!(!report.contains("e -> d"), "test code counted:\n{report}");
    assert!(graph
        .edges_within(&[])
        .contains_key(&("d".into(), "e".into())));

    // Listed, the two circles pass; a listed circle that is gone fails.
    let planted = |within, modules| KnownCycle {
        within,
        modules,
        why: "planted",
    };
    let mut listed = vec![
        planted("crate", &["a", "b"]),
        planted("crate::c", &["x", "y"]),
    ];
    check_cycles(&graph, &listed).unwrap();
    listed.push(planted("crate", &["d", "e"]));
    let report = check_cycles(&graph, &listed).unwrap_err();
    assert!(report.contains("no longer has: crate: d, e"), "{report}");
}

/// A parsing regression that finds nothing would pass the cycle check: the real crate has
/// well over this many edges.
#[test]
fn the_checker_finds_the_crates_imports() {
    let graph = crate_graph();
    let top = graph.edges_within(&[]).len();
    let all: usize = graph.edges.values().map(BTreeMap::len).sum();
    assert!(top >= 60, "only {top} edges between top-level modules");
    assert!(all >= 120, "only {all} edges in the whole tree");
}

/// A module's place in the tree: `[]` is the crate root, `["web", "admin"]` is `crate::web::admin`.
type ModPath = Vec<String>;

/// Where a reference was written: `src/web/public.rs`, line 12.
type Evidence = (String, usize);

fn crate_graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = BTreeMap::new();
    read_tree(root, &root.join("src"), &mut sources);
    // The binary's root reaches the library through `kipekee::` only; nothing can import it.
    sources.remove("src/main.rs");
    Graph::from_sources(&sources).unwrap_or_else(|error| panic!("{error}"))
}

fn read_tree(root: &Path, dir: &Path, sources: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("read src/").path();
        if path.is_dir() {
            read_tree(root, &path, sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            sources.insert(
                name,
                std::fs::read_to_string(&path).expect("read a source file"),
            );
        }
    }
}

/// What one module declares and names, before names are resolved.
#[derive(Default)]
struct Module {
    /// Child modules (test modules left out).
    children: BTreeSet<String>,
    /// Items defined here: a path stops at them.
    items: BTreeSet<String>,
    /// Names brought in by `use`, and the path as written.
    bindings: BTreeMap<String, Vec<Vec<String>>>,
    /// `use path::*` prefixes, as written.
    globs: Vec<Vec<String>>,
    /// Every path that may name another module of the crate, as written.
    references: Vec<(Vec<String>, Evidence)>,
}

#[derive(Default)]
struct Graph {
    /// Every module's children, the leaves included.
    children: BTreeMap<ModPath, BTreeSet<String>>,
    /// Parent → (from child, to child) → the first reference that makes the edge.
    edges: BTreeMap<ModPath, BTreeMap<(String, String), Evidence>>,
}

impl Graph {
    /// Reads the module tree from `src/lib.rs` down through its `mod` declarations. Every file
    /// must be reached, as code or as a test module, so a file the reader misses cannot slip
    /// out of the check.
    fn from_sources(sources: &BTreeMap<String, String>) -> Result<Graph, String> {
        let mut modules: BTreeMap<ModPath, Module> = BTreeMap::new();
        let mut test_files = BTreeSet::new();
        let mut queue = VecDeque::from([("src/lib.rs".to_string(), ModPath::new())]);
        let mut reached = BTreeSet::new();
        while let Some((file, module)) = queue.pop_front() {
            let text = sources
                .get(&file)
                .ok_or_else(|| format!("{file} is missing"))?;
            let ast = syn::parse_file(text).map_err(|error| format!("{file}: {error}"))?;
            let mut reader = Reader {
                file: &file,
                file_module: module.clone(),
                stack: module.clone(),
                sources,
                modules: &mut modules,
                queue: &mut queue,
                test_files: &mut test_files,
                error: None,
            };
            reader.module(&ast.items);
            if let Some(error) = reader.error {
                return Err(error);
            }
            reached.insert(file);
        }
        let unknown: Vec<_> = sources
            .keys()
            .filter(|file| !reached.contains(*file) && !test_files.contains(*file))
            .collect();
        if !unknown.is_empty() {
            return Err(format!("no `mod` declaration reaches {unknown:?}"));
        }

        let resolver = Resolver { modules: &modules };
        let mut graph = Graph::default();
        for (path, module) in &modules {
            graph.children.insert(path.clone(), module.children.clone());
            for (segments, evidence) in &module.references {
                if let Some(absolute) = resolver.absolute(path, segments, 0) {
                    let target = resolver.module_of(&absolute, 0);
                    graph.add_edge(path, &target, evidence);
                }
            }
        }
        Ok(graph)
    }

    fn add_edge(&mut self, from: &[String], to: &[String], evidence: &Evidence) {
        let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
        if common == from.len() || common == to.len() {
            return; // the same module, or a parent and its descendant
        }
        let key = (from[common].clone(), to[common].clone());
        let edges = self.edges.entry(from[..common].to_vec()).or_default();
        let first = edges.entry(key).or_insert_with(|| evidence.clone());
        if evidence < first {
            *first = evidence.clone();
        }
    }

    fn edges_within(&self, parent: &[String]) -> BTreeMap<(String, String), Evidence> {
        self.edges.get(parent).cloned().unwrap_or_default()
    }

    /// Every circle, at every level: the strongly connected components with more than one
    /// module.
    fn cycles(&self) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        for (parent, edges) in &self.edges {
            let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (from, to) in edges.keys() {
                next.entry(from).or_default().push(to);
            }
            let reach = |start: &str| {
                let mut seen = BTreeSet::new();
                let mut stack = vec![start];
                while let Some(node) = stack.pop() {
                    for &to in next.get(node).into_iter().flatten() {
                        if seen.insert(to) {
                            stack.push(to);
                        }
                    }
                }
                seen
            };
            let reachable: BTreeMap<&str, BTreeSet<&str>> =
                next.keys().map(|&node| (node, reach(node))).collect();
            let mut done = BTreeSet::new();
            for (&node, reached) in &reachable {
                if done.contains(node) || !reached.contains(node) {
                    continue;
                }
                let members: BTreeSet<&str> = reached
                    .iter()
                    .copied()
                    .filter(|other| reachable.get(other).is_some_and(|r| r.contains(node)))
                    .collect();
                done.extend(members.iter().copied());
                cycles.push(Cycle::new(parent, &members, edges));
            }
        }
        cycles
    }
}

/// One strongly connected component of a sibling graph.
struct Cycle {
    within: String,
    modules: Vec<String>,
    /// Every edge between the component's modules, with its evidence.
    edges: BTreeMap<(String, String), Evidence>,
}

impl Cycle {
    fn new(
        parent: &[String],
        members: &BTreeSet<&str>,
        edges: &BTreeMap<(String, String), Evidence>,
    ) -> Cycle {
        let inside = edges
            .iter()
            .filter(|((from, to), _)| {
                members.contains(from.as_str()) && members.contains(to.as_str())
            })
            .map(|(edge, evidence)| (edge.clone(), evidence.clone()))
            .collect();
        Cycle {
            within: module_name(parent),
            modules: members.iter().map(|m| m.to_string()).collect(),
            edges: inside,
        }
    }

    fn is(&self, known: &KnownCycle) -> bool {
        self.within == known.within && self.modules.iter().eq(known.modules.iter())
    }

    /// The shortest way round that takes the edge `from -> to`: `[from, to, …, from]`.
    fn way_round(&self, from: &str, to: &str) -> Vec<String> {
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::from([(to, to)]);
        let mut queue = VecDeque::from([to]);
        while let Some(node) = queue.pop_front() {
            if node == from {
                break;
            }
            for (next_from, next) in self.edges.keys() {
                if next_from == node && !came_from.contains_key(next.as_str()) {
                    came_from.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let mut path = vec![from.to_string()];
        let mut node = from;
        while node != to {
            node = came_from[node];
            path.push(node.to_string());
        }
        path.push(from.to_string());
        path.reverse();
        path
    }

    /// The shortest ways round through the edges no listed circle explains (through every
    /// edge when the listed circles explain them all), each edge with the line that makes it.
    fn describe(&self, known: &[KnownCycle]) -> String {
        let explained = |from: &str, to: &str| {
            known.iter().any(|k| {
                k.within == self.within && k.modules.contains(&from) && k.modules.contains(&to)
            })
        };
        let unexplained = self.edges.keys().any(|(from, to)| !explained(from, to));
        let mut ways: Vec<Vec<String>> = self
            .edges
            .keys()
            .filter(|(from, to)| !unexplained || !explained(from, to))
            .map(|(from, to)| {
                let mut way = self.way_round(from, to);
                // One rotation for each circle: from its smallest module.
                way.pop();
                let smallest = way.iter().enumerate().min_by_key(|(_, m)| *m).unwrap().0;
                way.rotate_left(smallest);
                way.push(way[0].clone());
                way
            })
            .collect();
        ways.sort_by_key(|way| (way.len(), way.clone()));
        ways.dedup();
        let mut text = String::new();
        const SHOWN: usize = 3;
        for way in ways.iter().take(SHOWN) {
            writeln!(text, "cycle in {}: {}", self.within, way.join(" -> ")).unwrap();
            for step in way.windows(2) {
                let (file, line) = &self.edges[&(step[0].clone(), step[1].clone())];
                writeln!(text, "    {} -> {}  {file}:{line}", step[0], step[1]).unwrap();
            }
        }
        if ways.len() > SHOWN {
            writeln!(text, "    … and {} longer ways round", ways.len() - SHOWN).unwrap();
        }
        if ways
            .first()
            .is_some_and(|way| way.len() - 1 < self.modules.len())
        {
            writeln!(text, "    all in one circle: {}", self.modules.join(", ")).unwrap();
        }
        text
    }
}

fn module_name(path: &[String]) -> String {
    std::iter::once("crate")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("::")
}

/// Passes when the circles in the code are exactly the listed ones.
fn check_cycles(graph: &Graph, known: &[KnownCycle]) -> Result<(), String> {
    let cycles = graph.cycles();
    let mut report = String::new();
    for cycle in cycles
        .iter()
        .filter(|cycle| !known.iter().any(|k| cycle.is(k)))
    {
        report.push_str(&cycle.describe(known));
    }
    for gone in known
        .iter()
        .filter(|k| !cycles.iter().any(|cycle| cycle.is(k)))
    {
        writeln!(
            report,
            "KNOWN_CYCLES lists a circle the code no longer has: {}: {} ({}). If it is gone, \
             remove the entry; if part of it is left, list that part.",
            gone.within,
            gone.modules.join(", "),
            gone.why,
        )
        .unwrap();
    }
    if report.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{report}\nA circle between sibling modules is not allowed: break it along a seam (move \
         the shared piece to the module it belongs to, or below both). Edges are listed with the \
         first line that makes them.\n\nThe top-level modules and what each uses:\n{}",
        top_level_text(graph)
    ))
}

/// The top-level graph as the README shows it: one line per module, then its circles.
fn top_level_text(graph: &Graph) -> String {
    let modules = graph
        .children
        .get(&ModPath::new())
        .cloned()
        .unwrap_or_default();
    let edges = graph.edges_within(&[]);
    let width = modules.iter().map(String::len).max().unwrap_or(0);
    let mut text = String::new();
    for module in &modules {
        let uses: Vec<&str> = edges
            .keys()
            .filter(|(from, _)| from == module)
            .map(|(_, to)| to.as_str())
            .collect();
        if uses.is_empty() {
            writeln!(text, "{module:width$} -> (nothing)").unwrap();
            continue;
        }
        // Wrapped near 100 columns, continuation lines under the first module named.
        let mut line = format!("{module:width$} ->");
        for (i, used) in uses.iter().enumerate() {
            let piece = if i + 1 < uses.len() {
                format!(" {used},")
            } else {
                format!(" {used}")
            };
            if line.len() + piece.len() > 100 {
                writeln!(text, "{line}").unwrap();
                line = " ".repeat(width + 3);
            }
            line.push_str(&piece);
        }
        writeln!(text, "{line}").unwrap();
    }
    let mut circles = graph
        .cycles()
        .into_iter()
        .filter(|cycle| cycle.within == "crate")
        .peekable();
    if circles.peek().is_some() {
        text.push('\n');
    }
    for cycle in circles {
        writeln!(text, "circle still to break: {}", cycle.modules.join(", ")).unwrap();
    }
    text
}

/// The first pass: one file's items, its `mod` declarations followed into their files.
struct Reader<'a> {
    file: &'a str,
    /// The module the file is.
    file_module: ModPath,
    /// The module being read: the file's, or an inline `mod x { … }` inside it.
    stack: ModPath,
    sources: &'a BTreeMap<String, String>,
    modules: &'a mut BTreeMap<ModPath, Module>,
    queue: &'a mut VecDeque<(String, ModPath)>,
    test_files: &'a mut BTreeSet<String>,
    error: Option<String>,
}

impl Reader<'_> {
    fn current(&mut self) -> &mut Module {
        self.modules.entry(self.stack.clone()).or_default()
    }

    fn module(&mut self, items: &[syn::Item]) {
        self.current();
        for item in items {
            if let Some(name) = item_name(item) {
                if !is_test(item_attrs(item)) {
                    self.current().items.insert(name);
                }
            }
        }
        for item in items {
            self.visit_item(item);
        }
    }

    /// `mod name;` lives in `name.rs` or `name/mod.rs`, beside `lib.rs`/`mod.rs` or in the
    /// folder named after the file.
    fn module_file(&self, name: &str) -> Option<String> {
        let (dir, file_name) = self.file.rsplit_once('/').unwrap_or(("", self.file));
        let mut base = if matches!(file_name, "lib.rs" | "mod.rs" | "main.rs") {
            dir.to_string()
        } else {
            format!("{dir}/{}", file_name.trim_end_matches(".rs"))
        };
        for inline in &self.stack[self.file_module.len()..] {
            base = format!("{base}/{inline}");
        }
        [format!("{base}/{name}.rs"), format!("{base}/{name}/mod.rs")]
            .into_iter()
            .find(|candidate| self.sources.contains_key(candidate))
    }

    fn reference(&mut self, segments: Vec<String>, line: usize) {
        let evidence = (self.file.to_string(), line);
        self.current().references.push((segments, evidence));
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => self.use_leaf(prefix, &name.ident, &name.ident),
            syn::UseTree::Rename(rename) => self.use_leaf(prefix, &rename.ident, &rename.rename),
            syn::UseTree::Glob(glob) => {
                let line = glob.star_token.span.start().line;
                self.current().globs.push(prefix.clone());
                self.reference(prefix.clone(), line);
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &syn::Ident, bound_as: &syn::Ident) {
        let mut path = prefix.to_vec();
        let bound_as = if ident == "self" {
            prefix.last().cloned().unwrap_or_default()
        } else {
            path.push(ident.to_string());
            bound_as.to_string()
        };
        if bound_as != "_" {
            self.current()
                .bindings
                .entry(bound_as)
                .or_default()
                .push(path.clone());
        }
        self.reference(path, ident.span().start().line);
    }

    /// Paths inside a macro call are tokens, not syntax: `a::b::c` runs are read as paths.
    fn macro_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let is_colons = |i: usize| {
            matches!((tokens.get(i), tokens.get(i + 1)),
                (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                    if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
        };
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => self.macro_tokens(group.stream()),
                TokenTree::Ident(first) if i < 2 || !is_colons(i - 2) => {
                    let line = first.span().start().line;
                    let mut segments = vec![first.to_string()];
                    while is_colons(i + 1) {
                        let Some(TokenTree::Ident(next)) = tokens.get(i + 3) else {
                            break;
                        };
                        segments.push(next.to_string());
                        i += 3;
                    }
                    if segments.len() > 1 {
                        self.reference(segments, line);
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Reader<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
            return;
        }
        // A test module in its own file: accounted for, not read.
        if let syn::Item::Mod(module) = item {
            if module.content.is_none() {
                if let Some(file) = self.module_file(&module.ident.to_string()) {
                    self.test_files.insert(file.clone());
                    let prefix =
                        format!("{}/", file.trim_end_matches(".rs").trim_end_matches("/mod"));
                    let nested: Vec<String> = self
                        .sources
                        .keys()
                        .filter(|f| f.starts_with(&prefix))
                        .cloned()
                        .collect();
                    self.test_files.extend(nested);
                }
            }
        }
    }

    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        let name = module.ident.to_string();
        self.current().children.insert(name.clone());
        let mut path = self.stack.clone();
        path.push(name.clone());
        match &module.content {
            Some((_, items)) => {
                self.stack.push(name);
                self.module(items);
                self.stack.pop();
            }
            None => match self.module_file(&name) {
                Some(file) => self.queue.push_back((file, path)),
                None => {
                    self.error = Some(format!("{}: no file for `mod {name};`", self.file));
                }
            },
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_none() {
            self.use_tree(&mut Vec::new(), &item.tree);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_impl_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.reference(segments, path.segments[0].ident.span().start().line);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.macro_tokens(mac.tokens.clone());
    }

    // `pub(in crate::x)` and attributes name no dependency.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &syn::Item) -> Option<String> {
    use syn::Item::*;
    let ident = match item {
        Const(i) => &i.ident,
        Enum(i) => &i.ident,
        Fn(i) => &i.sig.ident,
        Macro(i) => i.ident.as_ref()?,
        Static(i) => &i.ident,
        Struct(i) => &i.ident,
        Trait(i) => &i.ident,
        TraitAlias(i) => &i.ident,
        Type(i) => &i.ident,
        Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// `#[test]`, `#[cfg(test)]`, `#[cfg(all(test, …))]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if attr.path().is_ident("test") {
            return true;
        }
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let Ok(meta) = attr.parse_args::<syn::Meta>() else {
            return false;
        };
        match meta {
            syn::Meta::Path(path) => path.is_ident("test"),
            syn::Meta::List(list) if list.path.is_ident("all") => list
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|all| all.iter().any(|m| m.path().is_ident("test"))),
            _ => false,
        }
    })
}

/// The second pass: a path as written, in the module it was written in, to the module that
/// defines what it names.
struct Resolver<'a> {
    modules: &'a BTreeMap<ModPath, Module>,
}

/// Deeper than any chain of re-exports in the crate; stops a `use` loop from recursing forever.
const MAX_DEPTH: usize = 32;

impl Resolver<'_> {
    /// The absolute path of `segments` written in `module`, or `None` for another crate's.
    fn absolute(&self, module: &[String], segments: &[String], depth: usize) -> Option<ModPath> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => ModPath::new(),
            "self" => module.to_vec(),
            "super" => module[..module.len().checked_sub(1)?].to_vec(),
            name => self.lookup(module, name, depth + 1)?,
        };
        let mut rest = rest;
        while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
            base.pop()?;
            rest = tail;
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// What `name` means inside `module`: a child, an item, a `use`, a glob's name.
    fn lookup(&self, module: &[String], name: &str, depth: usize) -> Option<ModPath> {
        let here = self.modules.get(module)?;
        if depth > MAX_DEPTH {
            return None;
        }
        if here.children.contains(name) || here.items.contains(name) {
            let mut path = module.to_vec();
            path.push(name.to_string());
            return Some(path);
        }
        for written in here.bindings.get(name).into_iter().flatten() {
            if let Some(path) = self.absolute(module, written, depth + 1) {
                return Some(path);
            }
        }
        for glob in &here.globs {
            let Some(source) = self.absolute(module, glob, depth + 1) else {
                continue;
            };
            if let Some(path) = self.lookup(&source, name, depth + 1) {
                return Some(path);
            }
        }
        None
    }

    /// The deepest module on `path`, following re-exports to the module that defines the name.
    fn module_of(&self, path: &[String], depth: usize) -> ModPath {
        let mut current = ModPath::new();
        for (i, segment) in path.iter().enumerate() {
            let Some(here) = self.modules.get(&current) else {
                break;
            };
            if here.children.contains(segment) {
                current.push(segment.clone());
                continue;
            }
            if here.items.contains(segment) || depth > MAX_DEPTH {
                break;
            }
            if let Some(mut defined) = self.lookup(&current, segment, depth + 1) {
                defined.extend(path[i + 1..].iter().cloned());
                return self.module_of(&defined, depth + 1);
            }
            break;
        }
        current
    }
}

//! The shape of this crate's files: no import cycle between them, one use case per file, and
//! no use case holding a port (or any field) it does not use.
//!
//! The graph's nodes are the source files of `src` that the module tree reaches (`lib.rs` is
//! the crate root, `auth.rs` is `auth`, `auth/register.rs` is `auth::register`). File A has an
//! edge to file B when a `use` in A imports a name B defines at its top level (a struct, enum,
//! trait, fn, const, static, type or `macro_rules!`), followed through every re-export to the
//! file that defines it: `use super::SessionIssuer` in `auth/register.rs` is an edge to
//! `auth/session_issuer.rs`, not to `auth.rs`. Importing a module itself (`use super::tokens;`)
//! is an edge to that module's file.
//!
//! What is not an edge: a module's `mod x;` and its re-exports (`pub use`, `pub(crate) use`)
//! of what its own submodules define, which declare rather than depend; imports of other
//! crates; glob imports; anything under `#[cfg(test)]` (test files, `mod tests` blocks); and
//! paths written out in code without a `use` (`super::parse(payload)`).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque, btree_map::Entry},
    fmt::Write as _,
    fs,
    path::Path,
};

use syn::{
    Attribute, ImplItem, Item, ItemUse, Meta, Token, TraitItem, Type, UseTree, Visibility,
    punctuated::Punctuated,
    visit::{self, Visit},
};

type FileId = usize;
type ModId = usize;

/// A source file the module tree reaches.
struct SourceFile {
    /// Its path under `src`, with `/` separators.
    path: String,
    /// Its module path, from the crate root.
    module: Vec<String>,
    syntax: syn::File,
}

/// What a name in a module stands for.
enum Binding {
    /// An item defined in the file.
    Item(FileId),
    /// A submodule.
    Module(ModId),
    /// A `use` of the module: the path it imports, from that module.
    Import(Vec<String>),
}

/// One name a `use` imports.
struct Import {
    /// The path, from the module the `use` is in.
    path: Vec<String>,
    /// A re-export (`pub use`, `pub(crate) use`, ...) rather than a private import.
    is_reexport: bool,
}

/// A module: a file, or a `mod x { ... }` inside one.
struct Module {
    path: Vec<String>,
    file: FileId,
    parent: Option<ModId>,
    names: HashMap<String, Vec<Binding>>,
    globs: Vec<Vec<String>>,
    imports: Vec<Import>,
}

/// Where a path leads.
#[derive(Clone, Copy)]
enum Place {
    Module(ModId),
    Item(FileId),
    /// Another crate (or the prelude).
    External,
}

/// An import of one file from another.
struct Edge {
    from: FileId,
    to: FileId,
    /// The first import that makes it, as written.
    import: String,
}

/// The module tree of a crate, read from its sources (paths under `src` to their text).
struct Crate {
    files: Vec<SourceFile>,
    modules: Vec<Module>,
}

impl Crate {
    fn load(sources: &BTreeMap<String, String>) -> Self {
        let mut krate = Self {
            files: Vec::new(),
            modules: Vec::new(),
        };
        krate.add_file(sources, "lib.rs", "", &[], None);
        krate
    }

    fn add_file(
        &mut self,
        sources: &BTreeMap<String, String>,
        path: &str,
        dir: &str,
        module: &[String],
        parent: Option<ModId>,
    ) -> ModId {
        let text = sources
            .get(path)
            .unwrap_or_else(|| panic!("src/{path} is declared as a module but cannot be read"));
        let syntax = syn::parse_file(text)
            .unwrap_or_else(|error| panic!("src/{path} does not parse: {error}"));
        let file = self.files.len();
        self.files.push(SourceFile {
            path: path.to_owned(),
            module: module.to_vec(),
            syntax: syntax.clone(),
        });
        self.add_module(sources, file, &syntax.items, dir, module, parent)
    }

    /// Adds the module holding `items`; its `mod x;` files live in `dir`.
    fn add_module(
        &mut self,
        sources: &BTreeMap<String, String>,
        file: FileId,
        items: &[Item],
        dir: &str,
        path: &[String],
        parent: Option<ModId>,
    ) -> ModId {
        let id = self.modules.len();
        self.modules.push(Module {
            path: path.to_vec(),
            file,
            parent,
            names: HashMap::new(),
            globs: Vec::new(),
            imports: Vec::new(),
        });
        for item in items.iter().filter(|item| !is_test_only(item_attrs(item))) {
            if let Item::Mod(declared) = item {
                let name = declared.ident.to_string();
                assert!(
                    !declared
                        .attrs
                        .iter()
                        .any(|attr| attr.path().is_ident("path")),
                    "{}: `#[path]` on `mod {name}` is not supported",
                    self.describe(file)
                );
                let mut child_path = path.to_vec();
                child_path.push(name.clone());
                let child_dir = format!("{dir}{name}/");
                let child = if let Some((_, inline)) = &declared.content {
                    self.add_module(sources, file, inline, &child_dir, &child_path, Some(id))
                } else {
                    let flat = format!("{dir}{name}.rs");
                    let nested = format!("{dir}{name}/mod.rs");
                    let child_file = if sources.contains_key(&flat) {
                        flat
                    } else {
                        nested
                    };
                    self.add_file(sources, &child_file, &child_dir, &child_path, Some(id))
                };
                self.bind(id, name, Binding::Module(child));
            } else if let Item::Use(import) = item {
                self.add_use(id, import, true);
            } else {
                if let Some(name) = defined_name(item) {
                    self.bind(id, name, Binding::Item(file));
                }
                let mut nested = NestedUses::default();
                nested.visit_item(item);
                if let Some(name) = nested.modules.first() {
                    panic!(
                        "{}: `mod {name}` inside an item is not supported",
                        self.describe(file)
                    );
                }
                for import in nested.uses {
                    self.add_use(id, import, false);
                }
            }
        }
        id
    }

    /// Records what `import` brings in; only a module-level `use` binds names others can use.
    fn add_use(&mut self, module: ModId, import: &ItemUse, binds: bool) {
        if import.leading_colon.is_some() {
            return;
        }
        let is_reexport = !matches!(import.vis, Visibility::Inherited);
        let mut leaves = Vec::new();
        flatten(&import.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            match leaf {
                Leaf::Glob(path) => {
                    if binds {
                        self.modules[module].globs.push(path);
                    }
                }
                Leaf::Name { path, binding } => {
                    if binds && let Some(name) = binding {
                        self.bind(module, name, Binding::Import(path.clone()));
                    }
                    self.modules[module]
                        .imports
                        .push(Import { path, is_reexport });
                }
            }
        }
    }

    fn bind(&mut self, module: ModId, name: String, binding: Binding) {
        self.modules[module]
            .names
            .entry(name)
            .or_default()
            .push(binding);
    }

    fn describe(&self, file: FileId) -> String {
        format!("src/{}", self.files[file].path)
    }

    fn parent(&self, module: ModId) -> Result<Place, String> {
        self.modules[module]
            .parent
            .map(Place::Module)
            .ok_or_else(|| "`super` of the crate root".to_owned())
    }

    /// Where `path`, written in `scope`, leads.
    fn resolve(&self, scope: ModId, path: &[String], depth: usize) -> Result<Vec<Place>, String> {
        if depth > 64 {
            return Err("re-exports that loop".to_owned());
        }
        let Some((first, rest)) = path.split_first() else {
            return Err("an empty path".to_owned());
        };
        let mut places = match first.as_str() {
            "crate" => vec![Place::Module(0)],
            "super" => vec![self.parent(scope)?],
            "self" => vec![Place::Module(scope)],
            // `use serde_json::json;` binds `json`, but its own first segment is the crate.
            name => self
                .lookup(scope, name, path, depth)?
                .unwrap_or_else(|| vec![Place::External]),
        };
        for segment in rest {
            let mut next = Vec::new();
            for place in places {
                let Place::Module(module) = place else {
                    // A variant or an associated item of an item, or inside another crate.
                    next.push(place);
                    continue;
                };
                match segment.as_str() {
                    "super" => next.push(self.parent(module)?),
                    "self" => next.push(place),
                    name => {
                        let found = self.lookup(module, name, &[], depth)?.ok_or_else(|| {
                            let module = module_name(&self.modules[module].path);
                            format!("`{name}` is not in `{module}`")
                        })?;
                        next.extend(found);
                    }
                }
            }
            places = next;
        }
        Ok(places)
    }

    /// What `name` stands for in `module`, if anything, leaving out the import of `importing`
    /// (the path being resolved, which cannot name itself).
    fn lookup(
        &self,
        module: ModId,
        name: &str,
        importing: &[String],
        depth: usize,
    ) -> Result<Option<Vec<Place>>, String> {
        let found = &self.modules[module];
        let bindings: Vec<&Binding> = found
            .names
            .get(name)
            .into_iter()
            .flatten()
            .filter(|binding| !matches!(binding, Binding::Import(path) if path == importing))
            .collect();
        if !bindings.is_empty() {
            let mut places = Vec::new();
            for binding in bindings {
                match binding {
                    Binding::Item(file) => places.push(Place::Item(*file)),
                    Binding::Module(child) => places.push(Place::Module(*child)),
                    Binding::Import(path) => {
                        places.extend(self.resolve(module, path, depth + 1)?);
                    }
                }
            }
            return Ok(Some(places));
        }
        for glob in &found.globs {
            for place in self.resolve(module, glob, depth + 1)? {
                if let Place::Module(source) = place
                    && let Some(places) = self.lookup(source, name, &[], depth + 1)?
                {
                    return Ok(Some(places));
                }
            }
        }
        Ok(None)
    }

    fn file_of(&self, place: Place) -> Option<FileId> {
        match place {
            Place::Module(module) => Some(self.modules[module].file),
            Place::Item(file) => Some(file),
            Place::External => None,
        }
    }

    /// The edges between files, or the imports that could not be followed.
    fn edges(&self) -> Result<Vec<Edge>, Vec<String>> {
        let mut edges: BTreeMap<(FileId, FileId), String> = BTreeMap::new();
        let mut unresolved = Vec::new();
        for (id, module) in self.modules.iter().enumerate() {
            for import in &module.imports {
                let places = match self.resolve(id, &import.path, 0) {
                    Ok(places) => places,
                    Err(why) => {
                        let path = import.path.join("::");
                        unresolved
                            .push(format!("{}: use {path}: {why}", self.describe(module.file)));
                        continue;
                    }
                };
                for to in places.into_iter().filter_map(|place| self.file_of(place)) {
                    let target = &self.files[to].module;
                    let declares = import.is_reexport
                        && target.len() > module.path.len()
                        && target.starts_with(&module.path);
                    if to != module.file && !declares {
                        edges
                            .entry((module.file, to))
                            .or_insert_with(|| import.path.join("::"));
                    }
                }
            }
        }
        if unresolved.is_empty() {
            Ok(edges
                .into_iter()
                .map(|((from, to), import)| Edge { from, to, import })
                .collect())
        } else {
            Err(unresolved)
        }
    }

    /// One cycle per group of files that import one another, each as a readable chain.
    fn cycles(&self, edges: &[Edge]) -> Vec<String> {
        let mut out: Vec<Vec<&Edge>> = vec![Vec::new(); self.files.len()];
        for edge in edges {
            out[edge.from].push(edge);
        }
        let reach: Vec<BTreeSet<FileId>> = (0..self.files.len())
            .map(|from| shortest_paths(&out, from).into_keys().collect())
            .collect();
        let mut reported: BTreeSet<FileId> = BTreeSet::new();
        let mut chains = Vec::new();
        for start in 0..self.files.len() {
            if reported.contains(&start) || !reach[start].contains(&start) {
                continue;
            }
            reported.extend(
                reach[start]
                    .iter()
                    .filter(|other| reach[**other].contains(&start)),
            );
            let mut chain = format!("cycle through {}:", self.describe(start));
            for edge in &shortest_paths(&out, start)[&start] {
                let _ = write!(
                    chain,
                    "\n    {} --[use {}]--> {}",
                    self.describe(edge.from),
                    edge.import,
                    self.describe(edge.to),
                );
            }
            chains.push(chain);
        }
        chains
    }

    /// The use cases each file under `auth/` and `jobs/` defines: a `pub struct` with a
    /// `pub async fn execute` or an `impl JobHandler`.
    fn use_cases(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.files
            .iter()
            .filter(|file| file.path.starts_with("auth/") || file.path.starts_with("jobs/"))
            .map(|file| {
                (
                    format!("src/{}", file.path),
                    use_cases_in(&file.syntax.items),
                )
            })
            .filter(|(_, cases)| !cases.is_empty())
            .collect()
    }

    /// `file: UseCase.field` for every field of a use case that its file's code never reads
    /// as `self.field`.
    fn unused_use_case_fields(&self) -> Vec<String> {
        let mut unused = Vec::new();
        for file in &self.files {
            let cases = use_cases_in(&file.syntax.items);
            if cases.is_empty() {
                continue;
            }
            let mut read = SelfFields::default();
            for item in &file.syntax.items {
                if !is_test_only(item_attrs(item)) {
                    read.visit_item(item);
                }
            }
            for item in &file.syntax.items {
                let Item::Struct(declared) = item else {
                    continue;
                };
                let name = declared.ident.to_string();
                if !cases.contains(&name) {
                    continue;
                }
                for field in &declared.fields {
                    let Some(field) = field.ident.as_ref().map(ToString::to_string) else {
                        continue;
                    };
                    if !read.0.contains(&field) {
                        unused.push(format!("src/{}: {name}.{field}", file.path));
                    }
                }
            }
        }
        unused
    }
}

/// The names `self.name` reads in the code visited.
#[derive(Default)]
struct SelfFields(BTreeSet<String>);

impl<'ast> Visit<'ast> for SelfFields {
    fn visit_expr_field(&mut self, field: &'ast syn::ExprField) {
        if let syn::Expr::Path(base) = field.base.as_ref()
            && base.path.is_ident("self")
            && let syn::Member::Named(name) = &field.member
        {
            self.0.insert(name.to_string());
        }
        visit::visit_expr_field(self, field);
    }
}

/// The shortest path of edges from `from` to every file it reaches (`from` itself only
/// through a cycle).
fn shortest_paths<'a>(out: &[Vec<&'a Edge>], from: FileId) -> BTreeMap<FileId, Vec<&'a Edge>> {
    let mut paths: BTreeMap<FileId, Vec<&Edge>> = BTreeMap::new();
    let mut queue = VecDeque::from([(from, Vec::new())]);
    while let Some((file, path)) = queue.pop_front() {
        for edge in &out[file] {
            if let Entry::Vacant(unseen) = paths.entry(edge.to) {
                let mut longer: Vec<&Edge> = path.clone();
                longer.push(edge);
                unseen.insert(longer.clone());
                if edge.to != from {
                    queue.push_back((edge.to, longer));
                }
            }
        }
    }
    paths
}

fn use_cases_in(items: &[Item]) -> BTreeSet<String> {
    let live = || items.iter().filter(|item| !is_test_only(item_attrs(item)));
    let public_structs: BTreeSet<String> = live()
        .filter_map(|item| {
            if let Item::Struct(declared) = item
                && matches!(declared.vis, Visibility::Public(_))
            {
                Some(declared.ident.to_string())
            } else {
                None
            }
        })
        .collect();
    live()
        .filter_map(|item| {
            if let Item::Impl(block) = item {
                Some(block)
            } else {
                None
            }
        })
        .filter(|block| {
            let is_handler = block.trait_.as_ref().is_some_and(|(path, _)| {
                path.segments
                    .last()
                    .is_some_and(|last| last.ident == "JobHandler")
            });
            let has_execute = block.items.iter().any(|member| {
                matches!(member, ImplItem::Fn(function)
                    if matches!(function.vis, Visibility::Public(_))
                        && function.sig.asyncness.is_some()
                        && function.sig.ident == "execute"
                        && !is_test_only(&function.attrs))
            });
            is_handler || (block.trait_.is_none() && has_execute)
        })
        .filter_map(|block| type_name(&block.self_ty))
        .filter(|name| public_structs.contains(name))
        .collect()
}

fn type_name(ty: &Type) -> Option<String> {
    if let Type::Path(path) = ty {
        path.path.segments.last().map(|last| last.ident.to_string())
    } else {
        None
    }
}

fn module_name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

/// One name a `use` tree imports, or a glob.
enum Leaf {
    Name {
        path: Vec<String>,
        /// The name it binds (none for `as _`).
        binding: Option<String>,
    },
    Glob(Vec<String>),
}

fn flatten(tree: &UseTree, prefix: &mut Vec<String>, leaves: &mut Vec<Leaf>) {
    let name = |ident: &syn::Ident, rename: Option<&syn::Ident>| {
        let mut path = prefix.clone();
        if ident != "self" {
            path.push(ident.to_string());
        }
        let binding = match rename {
            Some(rename) if rename == "_" => None,
            Some(rename) => Some(rename.to_string()),
            None => path.last().cloned(),
        };
        Leaf::Name { path, binding }
    };
    match tree {
        UseTree::Path(step) => {
            prefix.push(step.ident.to_string());
            flatten(&step.tree, prefix, leaves);
            prefix.pop();
        }
        UseTree::Name(leaf) => leaves.push(name(&leaf.ident, None)),
        UseTree::Rename(leaf) => leaves.push(name(&leaf.ident, Some(&leaf.rename))),
        UseTree::Glob(_) => leaves.push(Leaf::Glob(prefix.clone())),
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten(tree, prefix, leaves);
            }
        }
    }
}

/// The `use` items inside an item (function bodies, impl blocks), outside test code.
#[derive(Default)]
struct NestedUses<'ast> {
    uses: Vec<&'ast ItemUse>,
    modules: Vec<String>,
}

impl<'ast> Visit<'ast> for NestedUses<'ast> {
    fn visit_item(&mut self, item: &'ast Item) {
        if !is_test_only(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, import: &'ast ItemUse) {
        self.uses.push(import);
    }

    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        self.modules.push(module.ident.to_string());
    }

    fn visit_impl_item(&mut self, member: &'ast ImplItem) {
        let attrs: &[Attribute] = match member {
            ImplItem::Const(member) => &member.attrs,
            ImplItem::Fn(member) => &member.attrs,
            ImplItem::Type(member) => &member.attrs,
            ImplItem::Macro(member) => &member.attrs,
            ImplItem::Verbatim(_) | _ => &[],
        };
        if !is_test_only(attrs) {
            visit::visit_impl_item(self, member);
        }
    }

    fn visit_trait_item(&mut self, member: &'ast TraitItem) {
        let attrs: &[Attribute] = match member {
            TraitItem::Const(member) => &member.attrs,
            TraitItem::Fn(member) => &member.attrs,
            TraitItem::Type(member) => &member.attrs,
            TraitItem::Macro(member) => &member.attrs,
            TraitItem::Verbatim(_) | _ => &[],
        };
        if !is_test_only(attrs) {
            visit::visit_trait_item(self, member);
        }
    }
}

/// The name an item defines for others to import.
fn defined_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(item) => &item.ident,
        Item::Enum(item) => &item.ident,
        Item::Fn(item) => &item.sig.ident,
        Item::Macro(item) => item.ident.as_ref()?,
        Item::Static(item) => &item.ident,
        Item::Struct(item) => &item.ident,
        Item::Trait(item) => &item.ident,
        Item::TraitAlias(item) => &item.ident,
        Item::Type(item) => &item.ident,
        Item::Union(item) => &item.ident,
        // Declare or implement rather than define a name (a `mod` is bound on its own).
        Item::ExternCrate(_)
        | Item::ForeignMod(_)
        | Item::Impl(_)
        | Item::Mod(_)
        | Item::Use(_)
        | Item::Verbatim(_)
        | _ => return None,
    };
    Some(ident.to_string())
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        Item::Verbatim(_) | _ => &[],
    }
}

/// Whether `attrs` compile the item into tests only (`#[cfg(test)]`, `#[cfg(all(test, ...))]`).
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<Meta>()
                .is_ok_and(|predicate| cfg_needs_test(&predicate))
    })
}

fn cfg_needs_test(predicate: &Meta) -> bool {
    let nested = |list: &syn::MetaList| {
        list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .map(|all| all.into_iter().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    match predicate {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) if list.path.is_ident("all") => nested(list).iter().any(cfg_needs_test),
        Meta::List(list) if list.path.is_ident("any") => {
            let options = nested(list);
            !options.is_empty() && options.iter().all(cfg_needs_test)
        }
        Meta::List(_) | Meta::NameValue(_) => false,
    }
}

/// Every `.rs` file under `dir`, by its path relative to `root`.
fn read_sources(root: &Path, dir: &Path, sources: &mut BTreeMap<String, String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .path();
        if path.is_dir() {
            read_sources(root, &path, sources);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let key = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            sources.insert(key, text);
        }
    }
}

fn this_crate() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    read_sources(&src, &src, &mut sources);
    Crate::load(&sources)
}

fn fixture(files: &[(&str, &str)]) -> Crate {
    let sources = files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect();
    Crate::load(&sources)
}

fn edge_list(krate: &Crate, edges: &[Edge]) -> Vec<(String, String)> {
    edges
        .iter()
        .map(|edge| {
            (
                krate.files[edge.from].path.clone(),
                krate.files[edge.to].path.clone(),
            )
        })
        .collect()
}

#[test]
fn no_two_files_of_the_crate_import_each_other_even_through_others() {
    let krate = this_crate();
    let edges = krate
        .edges()
        .unwrap_or_else(|unresolved| panic!("imports not followed:\n{}", unresolved.join("\n")));
    assert!(
        !edges.is_empty(),
        "no import between the files of src was found"
    );
    let cycles = krate.cycles(&edges);
    assert!(
        cycles.is_empty(),
        "application/src has import cycles between its files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn each_use_case_file_holds_one_use_case() {
    let use_cases = this_crate().use_cases();
    for folder in ["src/auth/", "src/jobs/"] {
        assert!(
            use_cases.keys().any(|file| file.starts_with(folder)),
            "no use case was found under {folder}"
        );
    }
    let crowded: Vec<String> = use_cases
        .iter()
        .filter(|(_, cases)| cases.len() > 1)
        .map(|(file, cases)| {
            format!(
                "{file}: {}",
                cases.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    assert!(
        crowded.is_empty(),
        "files holding more than one use case:\n{}",
        crowded.join("\n")
    );
}

#[test]
fn no_use_case_holds_a_port_it_does_not_use() {
    let unused = this_crate().unused_use_case_fields();
    assert!(
        unused.is_empty(),
        "use case fields their code never reads (ports it does not use):\n{}",
        unused.join("\n")
    );
}

#[test]
fn a_use_case_holding_a_port_it_does_not_use_is_found() {
    let krate = fixture(&[
        ("lib.rs", "pub mod auth;"),
        ("auth.rs", "mod login;"),
        (
            "auth/login.rs",
            "pub struct Login { users: u8, hasher: u8 }
             impl Login { pub async fn execute(&self) -> u8 { self.users } }",
        ),
    ]);
    assert_eq!(
        krate.unused_use_case_fields(),
        vec!["src/auth/login.rs: Login.hasher".to_owned()]
    );
}

#[test]
fn an_import_through_a_re_export_is_an_edge_to_the_defining_file() {
    let krate = fixture(&[
        ("lib.rs", "pub mod auth;"),
        (
            "auth.rs",
            "mod issuer; mod register; mod tokens; pub use issuer::Issuer; pub use register::Register;",
        ),
        (
            "auth/register.rs",
            "use super::{Issuer as Named, tokens::{self}}; use std::sync::Arc; pub struct Register;",
        ),
        (
            "auth/issuer.rs",
            "use super::tokens::opaque as _; pub struct Issuer;",
        ),
        (
            "auth/tokens.rs",
            "pub fn opaque() {}\n#[cfg(test)] mod tests { use crate::auth::Register; }",
        ),
    ]);
    let edges = krate.edges().unwrap();
    assert_eq!(
        edge_list(&krate, &edges),
        [
            ("auth/issuer.rs".to_owned(), "auth/tokens.rs".to_owned()),
            ("auth/register.rs".to_owned(), "auth/issuer.rs".to_owned()),
            ("auth/register.rs".to_owned(), "auth/tokens.rs".to_owned()),
        ]
    );
    assert!(krate.cycles(&edges).is_empty());
}

#[test]
fn a_cycle_through_re_exports_is_reported_as_a_chain_of_files() {
    let krate = fixture(&[
        ("lib.rs", "pub mod auth; pub use auth::Login;"),
        (
            "auth.rs",
            "mod issuer; mod login; pub use issuer::Issuer; pub use login::Login;",
        ),
        (
            "auth/issuer.rs",
            "pub struct Issuer; fn f() { use crate::Login; }",
        ),
        ("auth/login.rs", "use super::Issuer; pub struct Login;"),
    ]);
    let cycles = krate.cycles(&krate.edges().unwrap());
    assert_eq!(
        cycles,
        ["cycle through src/auth/issuer.rs:\n    \
          src/auth/issuer.rs --[use crate::Login]--> src/auth/login.rs\n    \
          src/auth/login.rs --[use super::Issuer]--> src/auth/issuer.rs"]
    );
}

#[test]
fn a_file_with_two_use_cases_is_found() {
    let krate = fixture(&[
        ("lib.rs", "pub mod jobs;"),
        ("jobs.rs", "mod both;"),
        (
            "jobs/both.rs",
            "pub struct Send; pub struct Purge; struct Helper;\n\
             impl Send { pub async fn execute(&self) {} }\n\
             impl JobHandler for Purge {}\n\
             impl Helper { pub async fn execute(&self) {} }",
        ),
    ]);
    let expected = BTreeSet::from(["Purge".to_owned(), "Send".to_owned()]);
    assert_eq!(
        krate.use_cases(),
        BTreeMap::from([("src/jobs/both.rs".to_owned(), expected)])
    );
}

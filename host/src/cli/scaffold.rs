//! `rekey plugin new NAME`: a ready plugin project outside this repository,
//! in Rust, JavaScript or Python — a provider or a deploy target with its
//! config schema and permissions, the build manifest, unit tests that run
//! natively, a README and a CI workflow — that builds and passes `rekey
//! plugin test` with no edit. JavaScript and Python projects get the
//! contract (`wit/`) too.

use super::exit::UsageError;
use std::path::{Path, PathBuf};

/// The componentize-js release the JavaScript projects are built with:
/// the one this rekey's tests build its JavaScript example with.
const COMPONENTIZE_JS: &str = "0.23.0";
/// The WASI shims componentize-js 0.23 loads at build time without
/// declaring them (a clean `npm install` of it alone cannot build).
const PREVIEW2_SHIM: &str = "0.17.4";
/// The componentize-py release the Python projects are built with.
const COMPONENTIZE_PY: &str = "0.25.1";

/// Arguments of `rekey plugin new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's name: lower-case letters, digits and `-`, starting with a letter.
    name: String,
    /// What the plugin is: a provider of keys, or a deploy target that puts them where applications read them.
    #[arg(long, value_enum, default_value_t = Kind::Provider)]
    kind: Kind,
    /// The language of the project.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// What the plugin talks to (a target: http).
    #[arg(long, value_enum, default_value_t = Template::Http)]
    template: Template,
    /// The folder to create [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Rust: depend on the rekey-sdk at this path (a checkout) instead of the copy this rekey carries,
    /// which is written into the project as `rekey-sdk/`.
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
}

/// The worlds of the contract a plugin can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// A provider (`plugin` world): generate, verify, revoke keys.
    Provider,
    /// A deploy target (`target` world): write, check, restore a key where applications read it.
    Target,
}

/// The languages a project can be made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    /// Rust, with rekey-sdk.
    Rust,
    /// JavaScript, built with componentize-js (npm).
    Js,
    /// Python, built with componentize-py (PyPI).
    Python,
}

/// What the plugin talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Template {
    /// A key API over HTTP (a target: an HTTP API that stores a value), with a placeholder admin token.
    Http,
    /// A service over TCP with its own protocol (Redis's, to adapt); Rust only.
    Tcp,
    /// Nothing: a random static secret.
    Static,
}

/// One file of a project: its path and its text before the blanks are filled.
type File = (&'static str, &'static str);

/// What a project in one language is made of.
struct Project {
    files: Vec<File>,
    /// The language, for people.
    language: &'static str,
    /// Where the build leaves the component.
    wasm_path: String,
    /// The commands that test and build it, one per line.
    commands: &'static str,
    /// Where what is, for the README.
    layout: &'static str,
    /// Whether the contract's WIT goes into the project.
    needs_wit: bool,
}

/// Writes the project and says what to do next.
pub fn run(args: Args) -> anyhow::Result<()> {
    let name = &args.name;
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(
            UsageError(format!("`{name}` is not a plugin name: use a-z, 0-9 and `-`, starting with a letter")).into()
        );
    }
    let template = args.template;
    if template == Template::Tcp && args.lang != Lang::Rust {
        return Err(UsageError(
            "the tcp template is in rust only: componentize-js gives JavaScript no sockets, and Python's would be \
             the raw wasi:sockets bindings; use --lang rust, or --template http"
                .into(),
        )
        .into());
    }
    if args.kind == Kind::Target && template != Template::Http {
        return Err(UsageError(
            "a deploy target is made from the http template (an HTTP API that stores a value): drop --template, \
             or use --template http"
                .into(),
        )
        .into());
    }
    if args.sdk_path.is_some() && args.lang != Lang::Rust {
        return Err(UsageError("--sdk-path is for --lang rust projects".into()).into());
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(UsageError(format!("{} exists and is not empty; choose another --dir", dir.display())).into());
    }
    let sdk_source = match &args.sdk_path {
        Some(path) => {
            let path =
                std::fs::canonicalize(path).map_err(|e| UsageError(format!("--sdk-path {}: {e}", path.display())))?;
            format!("path = {:?}", path.display().to_string())
        }
        // No rekey-sdk is published yet: the project gets the one this rekey carries.
        None => "path = \"rekey-sdk\"".into(),
    };
    let sdk = format!("rekey-sdk = {{ {sdk_source} }}");
    let sdk_test_host = format!("rekey-sdk = {{ {sdk_source}, features = [\"test-host\"] }}");
    let snake = name.replace('-', "_");
    let project = project(args.lang, args.kind, template, &snake);
    let (test_args, secret_note) = match template {
        Template::Http if args.kind == Kind::Target => (
            "-c base-url=https://config.example.com -c path=/apps/shop/api-key --grant config.example.com",
            "\n\nThe admin token comes from `REKEY_ADMIN_ADMIN_TOKEN` (or `--stdin`), never the\ncommand line; it is a placeholder, so the plugin itself never sees it.",
        ),
        Template::Http => (
            "-c base-url=https://api.example.com --grant api.example.com",
            "\n\nThe admin token comes from `REKEY_ADMIN_ADMIN_TOKEN` (or `--stdin`), never the\ncommand line; it is a placeholder, so the plugin itself never sees it.",
        ),
        Template::Tcp => (
            "-c host=127.0.0.1 -c port=6379 -c user=app --grant 127.0.0.1:6379",
            "\n\nThe admin password comes from `REKEY_ADMIN_ADMIN_PASSWORD` (or `--stdin`), never the\ncommand line.",
        ),
        Template::Static => ("", ""),
    };
    let template_name = match template {
        Template::Http => "http",
        Template::Tcp => "tcp",
        Template::Static => "static",
    };
    let (kind_name, what, world, kit_note, use_note) = match args.kind {
        Kind::Provider => (
            "provider",
            "provider plugin",
            "plugin",
            "`rekey plugin test` is the conformance kit: it runs the contract's rules\nagainst the real provider (generate, verify, a second key, list, revoke,\nrevoked keys no longer verify, a wrong admin secret is refused, requests go\nonly to declared hosts) and revokes every key it made.",
            format!("name it in `rekey.toml` as `plugin = \"{name}\"`"),
        ),
        Kind::Target => (
            "target",
            "deploy target plugin",
            "target",
            "`rekey plugin test` is the conformance kit: it runs the target rules\nagainst the real destination (write, check finds the key, a repeated write\nchanges nothing, another rotation's write replaces it, restore puts the\nprevious key back and twice is harmless, no result carries a secret,\nrequests go only to declared hosts).",
            format!(
                "name it in a stage's `targets` in `rekey.toml`, e.g.\n`{{ plugin = \"{name}\", config = {{ base-url = \"https://config.example.com\", path = \"/apps/shop/api-key\" }}, admin_secrets = {{ admin-token = \"env:CONFIG_TOKEN\" }}, grants = [\"config.example.com\"] }}`"
            ),
        ),
    };
    let lang_name = match args.lang {
        Lang::Rust => "rust",
        Lang::Js => "js",
        Lang::Python => "python",
    };
    let wasm = format!("{snake}.wasm");
    let test_command = format!("rekey plugin test {} {test_args}", project.wasm_path).trim_end().to_string();
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", name)
            .replace("{{crate_file}}", &snake)
            .replace("{{sdk}}", &sdk)
            .replace("{{sdk_test_host}}", &sdk_test_host)
            .replace("{{template}}", template_name)
            .replace("{{kind}}", kind_name)
            .replace("{{what}}", what)
            .replace("{{world}}", world)
            .replace("{{kit_note}}", kit_note)
            .replace("{{use_note}}", &use_note)
            .replace("{{lang}}", lang_name)
            .replace("{{language}}", project.language)
            .replace("{{commands}}", project.commands)
            .replace("{{layout}}", project.layout)
            .replace("{{wasm_path}}", &project.wasm_path)
            .replace("{{wasm}}", &wasm)
            .replace("{{test_command}}", &test_command)
            .replace("{{secret_note}}", secret_note)
            .replace("{{componentize_js}}", COMPONENTIZE_JS)
            .replace("{{preview2_shim}}", PREVIEW2_SHIM)
            .replace("{{componentize_py}}", COMPONENTIZE_PY)
    };
    let shared: [File; 1] = [("README.md", include_str!("scaffold/README.md.in"))];
    for (path, text) in project.files.iter().chain(&shared) {
        write(&dir.join(path), &fill(text))?;
    }
    if args.lang == Lang::Rust && args.sdk_path.is_none() {
        super::sdk::write(&dir.join("rekey-sdk"))?;
    }
    if project.needs_wit {
        crate::runtime::contract::write(&dir.join("wit"))
            .map_err(|e| anyhow::anyhow!("cannot write the contract into {}: {e}", dir.join("wit").display()))?;
    }
    println!("created the {template_name} {what} `{name}` in {lang_name} in {}", dir.display());
    println!("next: cd {}", dir.display());
    for command in project.commands.lines() {
        println!("      {command}");
    }
    println!("then: {test_command}");
    Ok(())
}

/// The files and commands of a project in `lang`, whose component is
/// `snake.wasm`. (A target is made from the http template: `run` refuses
/// any other.)
fn project(lang: Lang, kind: Kind, template: Template, snake: &str) -> Project {
    match lang {
        Lang::Rust => Project {
            files: vec![
                ("Cargo.toml", include_str!("scaffold/rust/Cargo.toml.in")),
                (
                    "src/lib.rs",
                    match (kind, template) {
                        (Kind::Target, _) => include_str!("scaffold/rust/target.rs"),
                        (Kind::Provider, Template::Http) => include_str!("scaffold/rust/http.rs"),
                        (Kind::Provider, Template::Tcp) => include_str!("scaffold/rust/tcp.rs"),
                        (Kind::Provider, Template::Static) => include_str!("scaffold/rust/static.rs"),
                    },
                ),
                (".github/workflows/ci.yml", include_str!("scaffold/rust/ci.yml.in")),
                (".gitignore", include_str!("scaffold/rust/gitignore.in")),
                // The toolchain rekey's own plugins are built with: the same
                // source then gives the same bytes anywhere.
                ("rust-toolchain.toml", include_str!("../../../rust-toolchain.toml")),
            ],
            language: "Rust",
            wasm_path: format!("target/wasm32-wasip2/release/{snake}.wasm"),
            commands: "rustup target add wasm32-wasip2\ncargo test                                     # the unit tests, natively\ncargo build --target wasm32-wasip2 --release",
            layout: "`src/lib.rs` is the plugin, with its unit tests; `Cargo.toml` must keep\n`crate-type = [\"cdylib\"]`, or cargo makes a library archive and no `.wasm`.\n\nThe build is reproducible, so a reviewer can check that a `.wasm` is this\nsource: with the toolchain `rust-toolchain.toml` pins and Cargo's home\nrenamed, as CI builds it,\n`CARGO_ENCODED_RUSTFLAGS=\"--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo\" cargo build --locked --target wasm32-wasip2 --release`\ngives the same sha256 in any folder on any machine (commit `Cargo.lock`).",
            needs_wit: false,
        },
        Lang::Js => Project {
            files: match (kind, template) {
                (Kind::Target, _) => vec![
                    ("src/app.js", include_str!("scaffold/js/src/target.js")),
                    ("src/store.js", include_str!("scaffold/js/src/store.js")),
                    ("src/host.js", include_str!("scaffold/js/src/host.js")),
                    ("test/store.test.js", include_str!("scaffold/js/test/store.test.js")),
                ],
                // (The tcp template is refused for JavaScript in `run`.)
                (Kind::Provider, Template::Http | Template::Tcp) => vec![
                    ("src/app.js", include_str!("scaffold/js/src/http.js")),
                    ("src/api.js", include_str!("scaffold/js/src/api.js")),
                    ("src/host.js", include_str!("scaffold/js/src/host.js")),
                    ("test/api.test.js", include_str!("scaffold/js/test/api.test.js")),
                ],
                (Kind::Provider, Template::Static) => vec![
                    ("src/app.js", include_str!("scaffold/js/src/static.js")),
                    ("src/secret.js", include_str!("scaffold/js/src/secret.js")),
                    ("test/secret.test.js", include_str!("scaffold/js/test/secret.test.js")),
                ],
            }
            .into_iter()
            .chain([
                ("package.json", include_str!("scaffold/js/package.json.in")),
                (".github/workflows/ci.yml", include_str!("scaffold/js/ci.yml.in")),
                (".gitignore", include_str!("scaffold/js/gitignore.in")),
            ])
            .collect(),
            language: "JavaScript",
            wasm_path: format!("{snake}.wasm"),
            commands: "npm install                                    # componentize-js\nnpm test                                       # the unit tests, natively\nnpm run build",
            layout: "`src/app.js` is the plugin; what it knows without the host is in plain\nmodules beside it, which `npm test` tests with Node. `wit/` is the contract\n(`rekey plugin wit --out wit` writes a newer rekey's). A provider-error is\nthrown as its variant, `{ tag: \"unavailable\", val: \"why\" }`; any other\nexception fails the call, and the operator sees it.",
            needs_wit: true,
        },
        Lang::Python => Project {
            files: match (kind, template) {
                (Kind::Target, _) => vec![
                    ("app.py", include_str!("scaffold/python/app_target.py")),
                    ("store.py", include_str!("scaffold/python/store.py")),
                    ("contract.py", include_str!("scaffold/python/contract.py")),
                    ("host.py", include_str!("scaffold/python/host.py")),
                    ("test_store.py", include_str!("scaffold/python/test_store.py")),
                ],
                // (The tcp template is refused for Python in `run`.)
                (Kind::Provider, Template::Http | Template::Tcp) => vec![
                    ("app.py", include_str!("scaffold/python/app_http.py")),
                    ("api.py", include_str!("scaffold/python/api.py")),
                    ("contract.py", include_str!("scaffold/python/contract.py")),
                    ("host.py", include_str!("scaffold/python/host.py")),
                    ("test_api.py", include_str!("scaffold/python/test_api.py")),
                ],
                (Kind::Provider, Template::Static) => vec![
                    ("app.py", include_str!("scaffold/python/app_static.py")),
                    ("keymaker.py", include_str!("scaffold/python/keymaker.py")),
                    ("test_keymaker.py", include_str!("scaffold/python/test_keymaker.py")),
                ],
            }
            .into_iter()
            .chain([
                ("Makefile", include_str!("scaffold/python/Makefile.in")),
                ("requirements.txt", include_str!("scaffold/python/requirements.txt.in")),
                (".github/workflows/ci.yml", include_str!("scaffold/python/ci.yml.in")),
                (".gitignore", include_str!("scaffold/python/gitignore.in")),
            ])
            .collect(),
            language: "Python",
            wasm_path: format!("{snake}.wasm"),
            commands: "pip install -r requirements.txt                # componentize-py\nmake test                                      # the unit tests, natively\nmake build",
            layout: "`app.py` is the plugin; what it knows without the host is in plain\nmodules beside it, which `make test` tests with CPython. `wit/` is the\ncontract (`rekey plugin wit --out wit` writes a newer rekey's). A\nprovider-error is raised as `Err(ProviderError_Unavailable(\"why\"))`; any\nother exception fails the call, and the operator sees it.",
            needs_wit: true,
        },
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn javascript_projects_use_the_componentize_js_this_repository_tests_with() {
        let example = include_str!("../../../plugins/examples/js-static/package.json");
        assert!(example.contains(&format!("\"@bytecodealliance/componentize-js\": \"{}\"", super::COMPONENTIZE_JS)));
        assert!(example.contains(&format!("\"@bytecodealliance/preview2-shim\": \"{}\"", super::PREVIEW2_SHIM)));
    }

    #[test]
    fn python_projects_use_the_componentize_py_this_repository_tests_with() {
        let installer = include_str!("../../../scripts/test");
        assert!(installer.contains(&format!("componentize-py=={}", super::COMPONENTIZE_PY)));
    }
}

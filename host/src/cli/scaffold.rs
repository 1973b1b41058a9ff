//! `rekey plugin new NAME`: a ready plugin project outside this repository
//! — manifest (`cdylib`, the SDK dependency), a provider with its config
//! schema and permissions, unit tests, a README and a CI workflow — that
//! builds and passes `rekey plugin test` with no edit.

use super::exit::UsageError;
use std::path::{Path, PathBuf};

/// Arguments of `rekey plugin new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's name: lower-case letters, digits and `-`, starting with a letter.
    name: String,
    /// The language of the project.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// What the provider talks to.
    #[arg(long, value_enum, default_value_t = Template::Http)]
    template: Template,
    /// The folder to create [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Depend on the rekey-sdk at this path (a checkout) instead of the published crate.
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
}

/// The languages a project can be made in.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Lang {
    /// Rust, with rekey-sdk.
    Rust,
}

/// What the provider talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Template {
    /// A key API over HTTP, with a placeholder admin token.
    Http,
    /// Nothing: a random static secret.
    Static,
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
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(UsageError(format!("{} exists and is not empty; choose another --dir", dir.display())).into());
    }
    let sdk = match &args.sdk_path {
        Some(path) => {
            let path =
                std::fs::canonicalize(path).map_err(|e| UsageError(format!("--sdk-path {}: {e}", path.display())))?;
            format!("rekey-sdk = {{ path = {:?} }}", path.display().to_string())
        }
        None => format!("rekey-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let crate_file = name.replace('-', "_");
    let (source, test_args, secret_note) = match args.template {
        Template::Http => (
            include_str!("scaffold/http.rs"),
            "-c base-url=https://api.example.com --grant api.example.com",
            "\n\nThe admin token comes from `REKEY_ADMIN_ADMIN_TOKEN` (or `--stdin`), never the\ncommand line; it is a placeholder, so the plugin itself never sees it.",
        ),
        Template::Static => (include_str!("scaffold/static.rs"), "", ""),
    };
    let template = match args.template {
        Template::Http => "http",
        Template::Static => "static",
    };
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", name)
            .replace("{{crate_file}}", &crate_file)
            .replace("{{sdk}}", &sdk)
            .replace("{{template}}", template)
            .replace("{{test_args}}", test_args)
            .replace("{{secret_note}}", secret_note)
    };
    let files: [(&str, &str); 5] = [
        ("Cargo.toml", include_str!("scaffold/Cargo.toml.in")),
        ("src/lib.rs", source),
        ("README.md", include_str!("scaffold/README.md.in")),
        (".github/workflows/ci.yml", include_str!("scaffold/ci.yml.in")),
        (".gitignore", include_str!("scaffold/gitignore.in")),
    ];
    for (path, text) in files {
        write(&dir.join(path), &fill(text))?;
    }
    println!("created the {template} plugin `{name}` in {}", dir.display());
    println!("next: cd {} && cargo test && cargo build --target wasm32-wasip2 --release", dir.display());
    println!("then: rekey plugin test target/wasm32-wasip2/release/{crate_file}.wasm {test_args}");
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

//! What the native test programs (the C program, the 1C-like host) need: the cdylib they load,
//! and valgrind to run them under.
//!
//! `cargo test` builds the cdylib as a dependency of the integration tests, so it stays in
//! `target/<profile>/deps/`; only `cargo build` copies it up to `target/<profile>/`. The copy in
//! `deps/` is always the freshest (cargo links it there first), so it wins; the one above is a
//! fallback for an old build layout. If neither exists (a test binary run by hand after
//! `cargo clean`), `cargo build --lib` is run once; cargo's own lock keeps parallel test binaries
//! from racing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The platform's file name of the cdylib.
pub const CDYLIB_NAME: &str = if cfg!(windows) {
    "bitrix24_1c.dll"
} else if cfg!(target_os = "macos") {
    "libbitrix24_1c.dylib"
} else {
    "libbitrix24_1c.so"
};

/// `target/<profile>/`: the test binary itself lives in `target/<profile>/deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The cdylib of this profile, built if it is missing.
pub fn cdylib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = profile_dir();
        let candidates = [dir.join("deps").join(CDYLIB_NAME), dir.join(CDYLIB_NAME)];
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return found.clone();
        }
        build_cdylib(&dir);
        candidates
            .into_iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("`cargo build --lib` left no {CDYLIB_NAME} in {dir:?}"))
    })
}

fn build_cdylib(profile_dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--lib", "--manifest-path"])
        .arg(root.join("Cargo.toml"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let status = cmd.status().expect("run cargo build --lib");
    assert!(status.success(), "cargo build --lib failed");
}

/// `valgrind` set up to fail (exit 99) on memory errors and on definite or indirect leaks. The
/// process-wide HTTP pools (and their runtime threads) live until exit by design, so their blocks
/// are "possibly lost" or "still reachable", which is not an error.
pub fn valgrind() -> Command {
    let mut c = Command::new("valgrind");
    c.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--show-leak-kinds=definite,indirect",
        "--quiet",
    ]);
    c
}

//! Builds tests/c/test_abi.c with -Wall -Wextra -Werror against the cdylib and the generated
//! header, and runs it against the emulator (under valgrind when B24_VALGRIND=1).

mod common;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// target/<profile>/, where cargo put the cdylib (the test binary lives in target/<profile>/deps).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

#[test]
fn c_program_calls_every_export() {
    let dir = profile_dir();
    let lib = dir.join("libbitrix24_1c.so");
    assert!(
        lib.exists(),
        "{} missing: cargo builds the cdylib before tests",
        lib.display()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = dir.join("test_abi");
    let status = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
        .arg(&exe)
        .arg(root.join("tests/c/test_abi.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&dir)
        .args(["-lbitrix24_1c", "-lpthread"])
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .status()
        .expect("a C compiler (cc) is installed");
    assert!(status.success(), "the C test program compiles cleanly");

    let emu = common::emulator(None);
    let guid = "c-abi-user-guid";
    emu.add_user(json!({"NAME": "C", "UF_USR_1722587885970": guid}));
    let valgrind = std::env::var("B24_VALGRIND").is_ok_and(|v| v == "1");
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--error-exitcode=99",
            "--leak-check=full",
            // The process-wide HTTP pool (and its runtime thread) lives until exit by design.
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--quiet",
        ])
        .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = cmd
        .arg(emu.webhook_url())
        .arg(guid)
        .output()
        .expect("test program runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(!stdout.contains(common::SECRET) && !stderr.contains(common::SECRET));
    assert!(
        out.status.success(),
        "C test program failed ({:?})",
        out.status
    );
    assert!(stdout.contains(", 0 failed"));
}

//! Builds tests/c/test_abi.c with -Wall -Wextra -Werror against the cdylib and the generated
//! header, and runs it against the emulator; `c_program_under_valgrind` (ignored by default, run
//! with `-- --ignored`) runs it under valgrind.

mod common;

use serde_json::json;
use std::path::Path;
use std::process::Command;

#[test]
fn c_program_calls_every_export() {
    run_c_program(false);
}

#[test]
#[ignore = "needs valgrind; CI runs it with --ignored"]
fn c_program_under_valgrind() {
    run_c_program(true);
}

/// Builds the C program, then runs it against a fresh emulator (optionally under valgrind).
fn run_c_program(under_valgrind: bool) {
    let lib = common::native::cdylib();
    let lib_dir = lib.parent().expect("the cdylib's folder");
    let dir = common::native::profile_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = dir.join("test_abi");
    let status = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
        .arg(&exe)
        .arg(root.join("tests/c/test_abi.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(lib_dir)
        .args(["-lbitrix24_1c", "-lpthread"])
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .status()
        .expect("a C compiler (cc) is installed");
    assert!(status.success(), "the C test program compiles cleanly");

    let emu = common::emulator(None);
    let guid = "c-abi-user-guid";
    emu.add_user(json!({"NAME": "C", "UF_USR_1722587885970": guid}));
    let mut cmd = if under_valgrind {
        let mut c = common::native::valgrind();
        c.arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    // cargo's LD_LIBRARY_PATH puts target/<profile>/ before the program's RUNPATH, and an
    // older `cargo build` may have left a stale copy of the library there.
    let out = cmd
        .env("LD_LIBRARY_PATH", lib_dir)
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

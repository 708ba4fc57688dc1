//! Tauri's build step. Capabilities live in src-tauri/ with the rest of the shell's sources,
//! while tauri.conf.json sits at the repository root next to the app's Cargo.toml.
fn main() {
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}

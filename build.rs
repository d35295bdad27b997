// The migrations are embedded at compile time (`store/migrations.rs`):
// a new migration directory must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

fn main() {
    println!("logbackup-webhook: not yet implemented");
}

#[test]
fn public_api() {
    assert_eq!(sample::add(20, 22), 42);
}

#[test]
fn prints_and_passes() {
    println!("some output");
}

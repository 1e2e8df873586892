use super::*;

#[test]
fn the_budget_grows_with_the_body() {
    let base = Duration::from_secs(10);
    assert_eq!(budget(base, 2_000), base);
    // A 5 MiB CV base64-encoded in a batch: about 7 MB.
    assert_eq!(budget(base, 7_000_000), Duration::from_secs(38));
    assert_eq!(longest_send(base), Duration::from_secs(50));
}

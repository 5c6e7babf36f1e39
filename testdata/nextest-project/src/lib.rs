//! A small crate whose tests shardkit's nextest preset runs: passing, failing, ignored.

pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn adds_negative() {
        assert_eq!(add(-2, 1), -1);
    }

    #[test]
    fn wrong_on_purpose() {
        assert_eq!(add(2, 2), 5, "a genuine failure");
    }

    #[test]
    #[ignore = "slow"]
    fn ignored() {}

    mod nested {
        #[test]
        fn deep() {
            assert!(super::super::add(1, 1) == 2);
        }
    }
}

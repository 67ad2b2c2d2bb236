//! CURVE tests.

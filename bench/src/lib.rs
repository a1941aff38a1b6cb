//! Benchmark support shared by the `bench/` binaries. Benchmarks report
//! figures; they never assert on time.

pub mod corpus;

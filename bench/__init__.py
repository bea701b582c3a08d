"""Speed and memory benchmarks (`contractqa bench`, `make bench`) and load scripts: kept out of
`eval/`, which measures answer quality."""

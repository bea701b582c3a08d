"""Offline tooling of the `contractqa-fr` cross-encoder (retrieval/crossencoder): the conversion
check, the generation of training questions by the local LLM, the training. Run each with
`python -m eval.train.<module>`; eval/train/README.md gives the order and the options."""

"""One runner per language: turns a RunRequest into sandboxed commands and their outcome."""

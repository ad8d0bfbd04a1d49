"""Code and summary extraction from model answers."""

from __future__ import annotations

from codeeval.bench.extract import extract_code, extract_summary


def test_prefers_the_fence_tagged_with_the_language():
    text = "Sure!\n```text\nnot code\n```\nHere:\n```python\ndef f():\n    return 1\n```\nHope it helps."
    assert extract_code(text, "python") == "def f():\n    return 1\n"


def test_untagged_fence_and_unterminated_fence():
    assert extract_code("```\nint x = 1;\n```", "java") == "int x = 1;\n"
    truncated = "```java\npublic int f() {\n    return 1;"
    assert extract_code(truncated, "java") == "public int f() {\n    return 1;\n"


def test_csharp_aliases():
    assert extract_code("```cs\nvar x = 1;\n```\n```csharp\nint y;\n```", "csharp") == "var x = 1;\n"


def test_special_tokens_are_removed():
    assert extract_code("```python\nx = 1\n```<|im_end|>", "python") == "x = 1\n"
    assert extract_code("def f():\n    return 2<|im_end|>", "python") == "def f():\n    return 2\n"


def test_unfenced_python_drops_leading_and_trailing_chat():
    text = "Here is the function you asked for:\ndef f(x):\n    return x + 1\n\nThis adds one to x."
    assert extract_code(text, "python") == "def f(x):\n    return x + 1\n"


def test_unfenced_java_stops_when_braces_close():
    text = "The method:\npublic static int f(int x) {\n    if (x > 0) { return x; }\n    return 0;\n}\nDone."
    assert extract_code(text, "java") == ("public static int f(int x) {\n    if (x > 0) { return x; }\n"
                                          "    return 0;\n}\n")


def test_no_code_at_all_returns_the_text_or_empty():
    assert extract_code("", "python") == ""
    assert extract_code("```python\n```", "python") == ""


def test_summary_is_the_first_sentence_without_labels():
    assert extract_summary("Summary: Sorts the list. Then returns it.") == "Sorts the list."
    assert extract_summary("\n`dedupe` removes duplicates\n\nMore text") == "dedupe removes duplicates"
    assert extract_summary("```python\ncode\n```\nReturns x.<|im_end|>") == "Returns x."

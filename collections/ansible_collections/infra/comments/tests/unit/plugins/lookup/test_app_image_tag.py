# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image tag of the comments_app role: <version>-<hash of the build context>, on real files in a tmp dir."""

import os
import re

import pytest
from ansible.errors import AnsibleLookupError
from ansible_collections.infra.comments.plugins.lookup import app_image_tag
from ansible_collections.infra.comments.plugins.lookup.app_image_tag import (
    LookupModule,
    context_files,
    image_tag,
    is_ignored,
    parse_dockerignore,
)

# The same .dockerignore as app/'s: everything out, then what the Dockerfile copies back in.
DOCKERIGNORE = """# comment
*
!requirements.txt
!pyproject.toml
!README.md
!comments_api/
**/__pycache__
**/*.pyc
"""

FILES = {
    ".dockerignore": DOCKERIGNORE,
    "Dockerfile": "FROM python:3.11-slim-bookworm\nCOPY . /src\n",
    "pyproject.toml": '[project]\nname = "comments-api"\nversion = "1.0.0"\n',
    "README.md": "readme\n",
    "requirements.txt": "Flask==3.1.0\n",
    "comments_api/__init__.py": "",
    "comments_api/api.py": "def f():\n    return 1\n",
    "comments_api/__pycache__/api.cpython-311.pyc": "bytecode",
    "tests/test_api.py": "def test(): pass\n",
    "BENCHMARKS.md": "numbers\n",
}


def write_tree(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def context(tmp_path):
    return write_tree(tmp_path / "app", FILES)


def tag(path):
    return image_tag(str(path))["tag"]


def test_the_tag_is_the_version_and_12_hex_digits_of_the_hash(context):
    result = image_tag(str(context))
    assert re.match(r"^1\.0\.0-[0-9a-f]{12}$", result["tag"])
    assert result["tag"] == "1.0.0-" + result["digest"][:12]
    assert result["version"] == "1.0.0"
    assert result["context"] == str(context)


def test_the_files_are_exactly_the_build_context(context):
    assert image_tag(str(context))["files"] == [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "comments_api/__init__.py",
        "comments_api/api.py",
        "pyproject.toml",
        "requirements.txt",
    ]


def test_an_unchanged_tree_gives_the_same_tag_wherever_and_however_it_was_written(tmp_path):
    # Another folder, files written in the reverse order (other inode and directory order), other mtimes.
    first = write_tree(tmp_path / "one" / "app", FILES)
    second = write_tree(tmp_path / "two" / "app", dict(reversed(list(FILES.items()))))
    os.utime(second / "comments_api" / "api.py", (1, 1))
    assert tag(first) == tag(second)


def test_a_changed_file_is_a_new_tag(context):
    before = tag(context)
    (context / "comments_api" / "api.py").write_text("def f():\n    return 2\n")
    assert tag(context) != before


def test_an_added_file_is_a_new_tag(context):
    before = tag(context)
    (context / "comments_api" / "new.py").write_text("")
    assert tag(context) != before
    assert "comments_api/new.py" in image_tag(str(context))["files"]


def test_a_removed_file_is_a_new_tag(context):
    before = tag(context)
    (context / "comments_api" / "__init__.py").unlink()
    assert tag(context) != before


def test_a_renamed_file_with_the_same_content_is_a_new_tag(context):
    before = tag(context)
    (context / "comments_api" / "api.py").rename(context / "comments_api" / "routes.py")
    assert tag(context) != before


def test_moving_content_between_files_is_a_new_tag(context):
    # Same set of contents, swapped between two paths: path and content are hashed together.
    before = tag(context)
    (context / "README.md").write_text("Flask==3.1.0\n")
    (context / "requirements.txt").write_text("readme\n")
    assert tag(context) != before


@pytest.mark.parametrize(
    "relative",
    [
        "comments_api/__pycache__/routes.cpython-311.pyc",
        "comments_api/stray.pyc",
        "tests/test_more.py",
        "notes.txt",
        ".venv/lib/site.py",
    ],
)
def test_a_dockerignored_file_does_not_change_the_tag(context, relative):
    before = tag(context)
    write_tree(context, {relative: "anything"})
    assert tag(context) == before
    assert relative not in image_tag(str(context))["files"]


def test_a_change_to_the_dockerfile_is_a_new_tag_although_dockerignore_excludes_it(context):
    before = tag(context)
    (context / "Dockerfile").write_text("FROM python:3.12-slim-bookworm\nCOPY . /src\n")
    assert tag(context) != before


def test_a_new_version_is_a_new_tag(context):
    (context / "pyproject.toml").write_text('[project]\nname = "comments-api"\nversion = "1.1.0"\n')
    assert tag(context).startswith("1.1.0-")


def test_without_dockerignore_everything_is_the_context(context):
    (context / ".dockerignore").unlink()
    files = image_tag(str(context))["files"]
    assert "tests/test_api.py" in files and "comments_api/__pycache__/api.cpython-311.pyc" in files


@pytest.mark.parametrize(
    "patterns, path, ignored",
    [
        # Last match wins; a pattern matching a parent folder covers what is below it.
        ("*\n!keep/\n", "keep/a/b.py", False),
        ("*\n!keep/\n", "other/b.py", True),
        ("docs\n", "docs/x/y.md", True),
        ("docs\n", "mydocs/y.md", False),
        ("*.md\n", "README.md", True),
        ("*.md\n", "sub/README.md", False),
        ("**/*.md\n", "sub/deeper/README.md", True),
        ("**/*.md\n", "README.md", True),
        ("/build\n", "build/out.o", True),
        ("./build/\n", "build/out.o", True),
        ("a?c\n", "abc", True),
        ("a?c\n", "a/c", False),
        ("file[0-9].txt\n", "file7.txt", True),
        ("*\n!*.py\n!x.py\nx.py\n", "x.py", True),
        ("logs/**\n!logs/keep.txt\n", "logs/keep.txt", False),
        ("logs/**\n", "logs/a/b.txt", True),
        ("# a comment\n\n   \n", "a comment", False),
        ("a.b\n", "aXb", False),
    ],
)
def test_dockerignore_is_read_as_docker_reads_it(patterns, path, ignored):
    assert is_ignored(path, parse_dockerignore(patterns)) is ignored


def test_the_real_app_context_is_what_the_dockerfile_copies():
    app = os.path.normpath(app_image_tag.DEFAULT_CONTEXT)
    files = context_files(app)
    assert {"Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "requirements.txt"} <= set(files)
    assert any(f.startswith("comments_api/") and f.endswith(".py") for f in files)
    assert all(
        f in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "requirements.txt")
        or f.startswith("comments_api/")
        for f in files
    ), files
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda root: (root / "Dockerfile").unlink(), "has no Dockerfile"),
        (lambda root: (root / "pyproject.toml").unlink(), "cannot read"),
        (lambda root: (root / "pyproject.toml").write_text('[project]\nname = "x"\n'), "has no \\[project\\] version"),
        (lambda root: (root / "pyproject.toml").write_text("[project\n"), "is not valid TOML"),
        (
            lambda root: (root / "pyproject.toml").write_text('[project]\nversion = "1.0+local build"\n'),
            "valid image tag",
        ),
    ],
)
def test_a_context_that_cannot_be_tagged_fails_with_the_reason(context, change, message):
    change(context)
    with pytest.raises(AnsibleLookupError, match=message):
        LookupModule().run([str(context)], variables={})


def test_a_missing_folder_fails_with_its_path(tmp_path):
    with pytest.raises(AnsibleLookupError, match="is not a directory"):
        LookupModule().run([str(tmp_path / "nothing")], variables={})


def test_the_lookup_returns_one_result_per_term_and_an_empty_term_is_the_repository_app(context):
    results = LookupModule().run([str(context), ""], variables={})
    assert results[0]["tag"] == tag(context)
    assert results[1]["context"] == os.path.normpath(app_image_tag.DEFAULT_CONTEXT)
    assert os.path.isfile(os.path.join(results[1]["context"], "Dockerfile"))

"""The original API's contract, over HTTP against gunicorn, on SQLite and on PostgreSQL."""

import random

import requests


def test_post_answers_the_original_success_body(server, content_id):
    response = server.post_comment(content_id, "guilherme@example.com", "Primeiro Post!")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "SUCCESS"
    assert body["message"] == f"comment created and associated with content_id {content_id}"


def test_post_with_a_numeric_content_id_names_it_as_the_original(server):
    number = random.randint(10**9, 10**12)
    response = server.post_comment(number)

    assert response.status_code == 200
    assert response.json()["message"] == f"comment created and associated with content_id {number}"


def test_list_returns_an_array_of_email_and_comment_oldest_first(server, content_id):
    posted = [(f"user{i}@example.com", f"comment number {i}") for i in range(5)]
    for email, comment in posted:
        assert server.post_comment(content_id, email, comment).status_code == 200

    response = server.list_comments(content_id)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    listed = response.json()
    assert isinstance(listed, list)
    assert [(item["email"], item["comment"]) for item in listed] == posted


def test_list_keeps_the_text_exactly_as_posted(server, content_id):
    comment = 'Olá! 😀 <b>não</b> é HTML "aspas" \\ barra\nnova linha'
    server.post_comment(content_id, "Gabriela@Example.COM", comment)

    [item] = server.list_comments(content_id).json()

    assert item["email"] == "Gabriela@Example.COM"
    assert item["comment"] == comment


def test_list_of_content_without_comments_is_the_original_404(server, content_id):
    response = server.list_comments(content_id)

    assert response.status_code == 404
    assert response.json() == {"status": "NOT-FOUND", "message": f"content_id {content_id} not found"}


def test_number_and_string_content_id_are_the_same_item(server):
    number = random.randint(10**9, 10**12)
    server.post_comment(number, comment="as a number")
    server.post_comment(str(number), comment="as a string")

    listed = server.list_comments(number).json()

    assert [item["comment"] for item in listed] == ["as a number", "as a string"]


def test_comments_of_other_content_are_not_listed(server, content_id):
    server.post_comment(content_id, comment="mine")
    server.post_comment(content_id + "x", comment="someone else's")

    assert [item["comment"] for item in server.list_comments(content_id).json()] == ["mine"]


def test_created_comment_has_an_id_and_a_timestamp(server, content_id):
    created = server.post_comment(content_id).json()

    [listed] = server.list_comments(content_id).json()
    assert listed["id"] == created["id"]
    assert listed["created_at"] == created["created_at"]
    assert created["created_at"].endswith("Z")


def test_request_id_is_returned_and_a_given_one_is_honoured(server):
    generated = requests.get(server.url("/healthz"), timeout=5).headers["X-Request-ID"]
    honoured = requests.get(server.url("/healthz"), headers={"X-Request-ID": "trace-42"}, timeout=5)
    unsafe = requests.get(server.url("/healthz"), headers={"X-Request-ID": "a b\tc"}, timeout=5)

    assert len(generated) == 32
    assert honoured.headers["X-Request-ID"] == "trace-42"
    assert unsafe.headers["X-Request-ID"] not in ("a b\tc", "")


class TestPagination:
    def post_many(self, server, content_id, count):
        for i in range(count):
            assert server.post_comment(content_id, comment=f"#{i}").status_code == 200

    def test_without_parameters_the_whole_list_is_returned(self, server, content_id):
        self.post_many(server, content_id, 120)  # more than the maximum page size (100)

        assert len(server.list_comments(content_id).json()) == 120

    def test_limit_and_offset_select_a_page(self, server, content_id):
        self.post_many(server, content_id, 7)

        page = server.list_comments(content_id, limit=3, offset=2).json()

        assert [item["comment"] for item in page] == ["#2", "#3", "#4"]

    def test_offset_alone_uses_the_maximum_page_size(self, server, content_id):
        self.post_many(server, content_id, 4)

        assert [c["comment"] for c in server.list_comments(content_id, offset=1).json()] == ["#1", "#2", "#3"]

    def test_a_page_past_the_end_of_existing_comments_is_empty(self, server, content_id):
        self.post_many(server, content_id, 2)

        response = server.list_comments(content_id, limit=10, offset=5)

        assert response.status_code == 200
        assert response.json() == []

    def test_a_page_of_content_without_comments_is_404(self, server, content_id):
        assert server.list_comments(content_id, limit=10, offset=5).status_code == 404

    def test_a_page_larger_than_the_maximum_is_refused(self, server, content_id):
        self.post_many(server, content_id, 1)

        response = server.list_comments(content_id, limit=101)

        assert response.status_code == 400
        assert response.json() == {"status": "ERROR", "message": "limit must be between 1 and 100, got 101"}

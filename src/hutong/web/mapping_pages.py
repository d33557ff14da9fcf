"""The mapping queue page: the first page of the queue rendered on the server, driven from the
keyboard by static/queue.js, which makes every change through the JSON API (mapping_api)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from hutong.web.accounts import User
from hutong.web.deps import dept_names, page, store_of, user_of
from hutong.web.mapping_api import STATUSES, known_local_systems, queue_page, target_systems

router = APIRouter()

PAGE = 50  # terms per page
# (keys, 中文, English) for the help overlay and the key bar; queue.js binds the same keys.
SHORTCUTS = [
    ("j / ↓", "下一个术语", "next term"),
    ("k / ↑", "上一个术语", "previous term"),
    ("1–9", "选择候选", "pick a candidate"),
    ("a", "批准所选候选（审核员）", "approve the picked candidate (reviewers)"),
    ("r", "驳回（审核员）", "reject (reviewers)"),
    ("f", "标记待复核", "flag for a second look"),
    ("c", "写评论，Ctrl+Enter 保存", "comment; Ctrl+Enter saves it"),
    ("/", "检索编码", "search codes: Chinese, pinyin initials or code"),
    ("Enter", "在检索结果中采用该编码（审核员批准，编码员提议）",
     "in the results: use that code (reviewers approve, coders propose)"),
    ("h", "映射历史", "history of the picked mapping"),
    ("b", "批量批准高于某分值（审核员）", "bulk approve above a score (reviewers)"),
    ("g", "刷新", "reload"),
    ("[ / ]", "上一页 / 下一页", "previous / next page"),
    ("?", "显示或关闭本帮助", "this help"),
    ("Esc", "关闭帮助、离开输入框", "close the help, leave a text box"),
]  # fmt: skip


@router.get("/queue", include_in_schema=False)
def queue_view(
    request: Request,
    user: Annotated[User, Depends(user_of)],
    target: str = "",
    local_system: str = "",
    department: str = "",
    status: str = "unreviewed",
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
):
    """The queue with its filters; unknown filter values fall back to the whole queue."""
    store = store_of(request)
    status = status if status in STATUSES else "unreviewed"
    error = None
    try:
        data = queue_page(store, target or None, local_system or None, status, PAGE, offset,
                          department=department or None)  # fmt: skip
    except HTTPException as exc:
        error, target, local_system = exc.detail, "", ""
        data = queue_page(store, None, None, status, PAGE, 0)
    stats = store.stats(target=target or None, local_system=local_system or None)
    return page(
        request, "queue.html", "映射队列 Queue", data=data.model_dump(mode="json"),
        targets=target_systems(store), local_systems=known_local_systems(store),
        statuses=STATUSES, stats=stats, error=error, shortcuts=SHORTCUTS,
        departments=store.departments(), dept_names=dept_names(),
        can_approve=user.can_approve,
    )  # fmt: skip

"""The workloads on LangGraph: a ``StateGraph`` whose nodes are async functions."""

from __future__ import annotations

import itertools
import operator
from importlib import metadata
from typing import Annotated, Any, TypedDict

from _workloads_common import Case, Sizes, expected_chain, expected_fanout
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

FRAMEWORK = "langgraph"


def version() -> str:
    return metadata.version("langgraph")


class ChainState(TypedDict):
    n: int


class FanState(TypedDict, total=False):
    n: int
    values: Annotated[list[int], operator.add]  # parallel writers need a reducer
    out: int


def _chain_graph(sizes: Sizes) -> Any:
    async def step(state: ChainState) -> dict[str, int]:
        return {"n": state["n"] + 1}

    g = StateGraph(ChainState)
    names = [f"e{i}" for i in range(sizes.chain)]
    for name in names:
        g.add_node(name, step)
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g


def _fanout_graph(sizes: Sizes) -> Any:
    async def src(state: FanState) -> dict[str, int]:
        return {"n": state["n"] + 1}

    def worker(add: int) -> Any:
        async def w(state: FanState) -> dict[str, list[int]]:
            return {"values": [state["n"] + add]}

        return w

    async def join(state: FanState) -> dict[str, int]:
        return {"out": sum(state["values"])}

    g = StateGraph(FanState)
    g.add_node("src", src)
    names = [f"w{i}" for i in range(sizes.width)]
    for i, name in enumerate(names):
        g.add_node(name, worker(i))
        g.add_edge("src", name)
    g.add_node("join", join)
    g.add_edge(START, "src")
    g.add_edge(names, "join")  # waits for every worker
    g.add_edge("join", END)
    return g


def make_case(workload: str, sizes: Sizes) -> Case | str:
    limit = {"recursion_limit": sizes.chain + 10}
    if workload == "chain":
        app = _chain_graph(sizes).compile()
        want = expected_chain(sizes)

        async def check_chain(state: Any) -> str | None:
            return None if state == {"n": want} else f"expected {{'n': {want}}}, got {state!r}"

        return Case(lambda: app.ainvoke({"n": 0}, limit), check_chain)
    if workload == "fanout":
        app = _fanout_graph(sizes).compile()
        want = expected_fanout(sizes)

        async def check_fan(state: Any) -> str | None:
            got = state.get("out")
            return None if got == want else f"expected out={want}, got {state!r}"

        return Case(lambda: app.ainvoke({"n": 0, "values": []}, limit), check_fan)
    if workload == "checkpoint":
        saver = InMemorySaver()
        app = _chain_graph(sizes).compile(checkpointer=saver)
        want = expected_chain(sizes)
        threads = itertools.count()
        last_thread: list[str] = []

        def run() -> Any:
            tid = f"bench-{next(threads)}"
            last_thread[:] = [tid]
            return app.ainvoke({"n": 0}, {**limit, "configurable": {"thread_id": tid}})

        async def check_ckpt(state: Any) -> str | None:
            if state != {"n": want}:
                return f"expected {{'n': {want}}}, got {state!r}"
            saved = len(list(saver.list({"configurable": {"thread_id": last_thread[0]}})))
            if saved < sizes.chain:
                return f"expected >= {sizes.chain} checkpoints for the thread, got {saved}"
            return None

        return Case(run, check_ckpt, "InMemorySaver, new thread_id per run")
    raise ValueError(f"unknown workload {workload!r}")

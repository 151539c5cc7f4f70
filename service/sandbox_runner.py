"""Temporal's workflow sandbox, without a round trip into it for every payload's context.

For every payload sequence of every activation and of every completion (seven per update),
temporalio's worker asks the workflow instance for the payload's serialization context and
external-store context. The sandboxed instance answers each question by exec-ing a line of
source text under the sandbox's importer: compiling it and swapping the import machinery in
and out, about 0.1 ms a time on a 2-core machine, 0.7-0.9 ms per update (measured with
`py-spy --gil`: 7 % of the benchmark process's Python time in the round trip).

The answer is computed by SDK code (`_WorkflowInstanceImpl.get_serialization_context`,
`get_external_store_context`) from the instance's own state: which workflow it is, and which
activity, child workflow or signal a command belongs to. That code imports nothing and calls
nothing the sandbox restricts, so the runner here asks the instance directly, outside the
importer. Everything the workflow's own code runs (activations) still runs in the sandbox.

The override rests on the sandbox runner's private layout (`_Instance`, and the name it gives
the instance in its globals), which temporalio may change in any release: `constraints.txt`
pins the SDK, a test checks that the fast path is taken and answers as the stock one, and if
the layout is not there the stock behaviour applies.
"""

from __future__ import annotations

from typing import Any

import temporalio.converter
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import _command_aware_visitor
from temporalio.worker._workflow_instance import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

# The name under which `_Instance` keeps the sandboxed `InSandbox` object in its globals.
IN_SANDBOX = "__temporal_in_sandbox"


class _DirectContextInstance(_Instance):
    def _in_sandbox(self) -> Any:
        return self.globals_and_locals.get(IN_SANDBOX)

    def get_serialization_context(
        self, command_info: _command_aware_visitor.CommandInfo | None
    ) -> temporalio.converter.SerializationContext | None:
        in_sandbox = self._in_sandbox()
        if in_sandbox is None:  # not the layout this was written for: the stock way
            return super().get_serialization_context(command_info)
        context: temporalio.converter.SerializationContext | None
        context = in_sandbox.get_serialization_context(command_info)
        return context

    def get_external_store_context(
        self, command_info: _command_aware_visitor.CommandInfo | None
    ) -> StorageDriverStoreContext:
        in_sandbox = self._in_sandbox()
        if in_sandbox is None:
            return super().get_external_store_context(command_info)
        context: StorageDriverStoreContext = in_sandbox.get_external_store_context(command_info)
        return context


class DirectContextSandboxedWorkflowRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances answer payload-context questions directly."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _DirectContextInstance(det, self.runner_class, self.restrictions)

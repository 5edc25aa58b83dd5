"""A Dynamiq application with no tracing code at all: an agent with a tool, then an LLM node.

Run it under ``opentelemetry-instrument`` and every run reaches Dynamiq::

    export DYNAMIQ_ACCESS_KEY=... OPENAI_API_KEY=...
    opentelemetry-instrument python examples/dynamiq_app.py

``make demo`` runs it against a local OpenAI-compatible server (``local_llm.py``)
and the local collector, so it needs no key at all.
"""

from dynamiq import Workflow, connections
from dynamiq.flows import Flow
from dynamiq.nodes.agents import Agent
from dynamiq.nodes.llms import OpenAI
from dynamiq.nodes.node import NodeDependency
from dynamiq.nodes.tools.python import Python
from dynamiq.prompts import Message, Prompt

connection = connections.OpenAI()  # OPENAI_API_KEY and OPENAI_URL from the environment

calculator = Python(
    name="calculator",
    description="Adds two numbers a and b.",
    code="def run(input_data):\n    return input_data.get('a', 0) + input_data.get('b', 0)\n",
)
agent = Agent(
    name="Math agent",
    llm=OpenAI(connection=connection, model="gpt-4o-mini", name="Agent LLM"),
    tools=[calculator],
    role="a careful assistant that uses its calculator",
    max_loops=3,
)
polisher = OpenAI(
    name="Polisher",
    connection=connection,
    model="gpt-4o-mini",
    prompt=Prompt(messages=[Message(role="user", content="Rephrase politely: {{answer}}")]),
    input_mapping={"answer": agent.outputs.content},
    depends=[NodeDependency(agent)],
)
workflow = Workflow(flow=Flow(nodes=[agent, polisher]))


def main() -> None:
    result = workflow.run_sync(input_data={"input": "What is 2 + 2?"})
    print(f"workflow {result.status.value}: {result.output[polisher.id]['output']['content']}")


if __name__ == "__main__":
    main()

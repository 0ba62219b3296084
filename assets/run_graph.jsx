// A pipeline run's steps drawn with React Flow: an order per row, its parallel steps
// side by side as lanes, every step of an order joined to every step of the next.
// Each lodged step links to its job page; steps not lodged yet are drawn as planned.
// The layout comes from the server (and each push); the browser only draws.
import { memo } from "react";
import { Background, Controls, Handle, Position, ReactFlow } from "@xyflow/react";
import { Link } from "react-router";
import "@xyflow/react/dist/style.css";

const StepNode = memo(function StepNode({ id, data }) {
  const body = (
    <>
      <span className="run-node-order">order {data.order}{data.parallel ? ` · lane ${data.lane}` : ""}</span>
      <span className="run-node-task">{data.task}</span>
      <span className="run-node-status">{data.words}</span>
    </>
  );
  return (
    <div className="run-node-body" data-node-id={id} data-status={data.status} data-order={data.order}
         data-lane={data.lane} data-task={data.task}>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      {data.href ? (
        <Link to={data.href} className="run-node-link nodrag nopan" title={`Open ${data.task}: ${data.words}`}>
          {body}
        </Link>
      ) : (
        <div className="run-node-planned-body" title={`${data.task}: starts when order ${data.order - 1} succeeded`}>
          {body}
        </div>
      )}
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { step: StepNode };
const FIT = { padding: 0.15, maxZoom: 1.1 };

export function RunGraph({ nodes, edges, colorMode }) {
  return (
    <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView fitViewOptions={FIT}
               nodesDraggable={false} nodesConnectable={false} elementsSelectable
               zoomOnScroll={false} preventScrolling={false} panOnDrag={false} minZoom={0.3} maxZoom={1.5}
               colorMode={colorMode}>
      <Background gap={16} size={1} />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}

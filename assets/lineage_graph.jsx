// An item's lineage drawn with React Flow: each node a link to its item's page and,
// when it has links not yet shown, a "more" button that asks the server for the next
// level from that node. The layout comes from the server; the browser only draws.
import { createContext, memo, useContext, useEffect } from "react";
import { Background, Controls, Handle, Position, ReactFlow, useReactFlow } from "@xyflow/react";
import { Link } from "react-router";
import "@xyflow/react/dist/style.css";

const MoreContext = createContext(null);

// Every edge runs subject -> object, from what came later to what it came from, and
// the graph puts origins on the left: an edge leaves a node's left side and enters
// the right side of the node it points to.
const LineageNode = memo(function LineageNode({ id, data }) {
  const onMore = useContext(MoreContext);
  return (
    <div className="lineage-node-body" data-node-id={id}>
      <Handle type="target" position={Position.Right} isConnectable={false} />
      <div className="lineage-kind">{data.kind}</div>
      {data.href ? (
        <Link to={data.href} className="lineage-link nodrag nopan" title={data.title}>{data.label}</Link>
      ) : (
        <span className="lineage-label" title={data.title}>{data.label}</span>
      )}
      {data.more ? (
        <button type="button" className="lineage-more nodrag nopan" aria-label={`Show more of ${data.label}`}
                onClick={(event) => { event.stopPropagation(); if (onMore) onMore(id); }}>
          more {data.more === "up" ? "\u2190" : "\u2192"}
        </button>
      ) : null}
      <Handle type="source" position={Position.Left} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { lineage: LineageNode };
const FIT = { padding: 0.15, maxZoom: 1.1 };

// A level loaded by "more" may lie outside the view: fit the graph again when it grows.
function FitWhenGrown({ count }) {
  const { fitView } = useReactFlow();
  useEffect(() => {
    const timer = setTimeout(() => fitView({ ...FIT, duration: 200 }), 50);
    return () => clearTimeout(timer);
  }, [count, fitView]);
  return null;
}

export function LineageGraph({ nodes, edges, onMore, colorMode }) {
  return (
    <MoreContext.Provider value={onMore}>
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView fitViewOptions={FIT}
                 nodesDraggable={false}
                 nodesConnectable={false} elementsSelectable zoomOnScroll={false}
                 preventScrolling={false} minZoom={0.15} maxZoom={2} colorMode={colorMode}>
        <Background gap={16} size={1} />
        <Controls showInteractive={false} />
        <FitWhenGrown count={nodes ? nodes.length : 0} />
      </ReactFlow>
    </MoreContext.Provider>
  );
}

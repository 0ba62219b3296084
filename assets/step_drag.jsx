// A pipeline step's row in the editor, reordered by drag and drop (HTML5): its grip is
// dragged onto another step's row, and the drop calls onMove(from, to) once; the server
// moves the step and numbers the steps again. Nothing is sent while dragging. The
// order numbers stay the form's truth, and typing one is the keyboard's way to reorder.
import { useState } from "react";

// Only a step's grip is dragged (its inputs keep their own text selection), and only
// a step is taken: a file or text dragged onto a row is no move.
const STEP = "application/x-jobdeck-step";

export function StepDrag({ index, onMove, className, children }) {
  const [over, setOver] = useState(false);
  const isStep = (event) => Array.from(event.dataTransfer.types || []).includes(STEP);
  return (
    <div
      className={`${className || ""}${over ? " step-drop-target" : ""}`}
      data-index={index}
      onDragOver={(event) => {
        if (!isStep(event)) return;
        event.preventDefault(); // this row takes the drop
        event.dataTransfer.dropEffect = "move";
        if (!over) setOver(true);
      }}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget)) setOver(false);
      }}
      onDrop={(event) => {
        setOver(false);
        if (!isStep(event)) return;
        event.preventDefault();
        const from = Number(event.dataTransfer.getData(STEP));
        if (Number.isInteger(from) && from !== index && onMove) onMove(from, index);
      }}
    >
      <span
        className="step-grip"
        draggable="true"
        title="Drag onto another step to move this one there"
        aria-hidden="true"
        onDragStart={(event) => {
          event.dataTransfer.effectAllowed = "move";
          event.dataTransfer.setData(STEP, String(index));
          const row = event.currentTarget.parentElement;
          if (row && event.dataTransfer.setDragImage) event.dataTransfer.setDragImage(row, 12, 12);
        }}
      >
        ⠿
      </span>
      {children}
    </div>
  );
}

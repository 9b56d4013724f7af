// The process owner's modeler: bpmn-js with the properties panel, our Safeguarding group and bpmnlint.
// Bundled by scripts/setup (esbuild) into webui/static/build/modeler.js and modeler.css.
import BpmnModeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import lintModule from "bpmn-js-bpmnlint";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";
import "bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css";
import spiffworkflow from "./spiffworkflow.json";
import safeguardingProperties from "./spiff-properties.js";
import lintConfig from "./lint-config.js";

function status(text, isError) {
  const box = document.getElementById("modeler-status");
  if (!box) { return; }
  box.textContent = text;
  box.className = "app-modeler-status" + (isError ? " app-modeler-status--error" : "");
}

function markProblems(modeler, problems) {
  const registry = modeler.get("elementRegistry");
  const canvas = modeler.get("canvas");
  const overlays = modeler.get("overlays");
  problems.forEach((problem) => {
    const element = registry.get(problem.element);
    if (!element) { return; }
    canvas.addMarker(element, "app-problem");
    const note = document.createElement("div");
    note.className = "app-problem-overlay";
    note.textContent = problem.reason;
    overlays.add(element, "app-problem", { position: { bottom: -5, left: 0 }, html: note });
  });
}

function start(root) {
  const modeler = new BpmnModeler({
    container: document.getElementById("modeler-canvas"),
    propertiesPanel: { parent: document.getElementById("modeler-properties") },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, safeguardingProperties, lintModule],
    moddleExtensions: { spiffworkflow },
    linting: { bpmnlint: lintConfig, active: true },
  });
  window.appModeler = modeler;  // for browser tests
  const problems = JSON.parse((document.getElementById("modeler-problems") || {}).textContent || "[]");
  fetch(root.dataset.xmlUrl, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) { throw new Error(`the diagram could not be loaded (${response.status})`); }
      return response.text();
    })
    .then((xml) => modeler.importXML(xml))
    .then((result) => {
      modeler.get("canvas").zoom("fit-viewport");
      markProblems(modeler, problems);
      const warnings = (result && result.warnings) || [];
      status(warnings.length ? `Opened with ${warnings.length} import warning(s): ${warnings[0].message}` : "Opened", false);
      root.setAttribute("data-ready", "true");
    })
    .catch((error) => status(`Could not open the diagram: ${error.message}`, true));

  document.getElementById("modeler-save").addEventListener("click", () => {
    status("Saving...", false);
    modeler.saveXML({ format: true })
      .then(({ xml }) => fetch(root.dataset.saveUrl, {
        method: "POST", body: xml, credentials: "same-origin",
        headers: { "Content-Type": "application/xml", "X-CSRFToken": root.dataset.csrfToken, "Accept": "application/json" },
      }))
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) {
          const lines = (body.problems || []).map((p) => `${p.element}: ${p.reason}`);
          status(`${body.error || body.detail || "Not saved"}${lines.length ? ": " + lines.join("; ") : ""}`, true);
          return;
        }
        const count = (body.problems || []).length;
        status(`Saved as draft ${body.version}. ${count ? count + " problem(s) to fix before publishing: see Check." : "No problems found."}`, false);
        window.history.replaceState(null, "", body.edit_url);
        root.dataset.saveUrl = body.edit_url.replace("/edit/", "/save/");
        const check = document.querySelector("a[href*='/diagrams/check/']");
        if (check) { check.href = body.check_url; }
      })
      .catch((error) => status(`Not saved: ${error.message}`, true));
  });
}

const root = document.getElementById("modeler");
if (root) { start(root); }

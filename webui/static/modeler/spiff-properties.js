// A "Safeguarding" group in the properties panel for what the engine reads from spiffworkflow
// extension elements (a user task's form, due date, assigned role and instructions; a timer's
// deadline) and the attributes the standard panel leaves out (conditions, called process, scripts).
import { h } from "@bpmn-io/properties-panel/preact";
import { TextAreaEntry, TextFieldEntry, isTextAreaEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

const TASK_PROPERTIES = [
  ["formJsonSchemaFilename", "Form (file in forms/)", "For example assessment.json"],
  ["dueDate", "Due date (expression)", "For example add_working_days(referral_date, 1)"],
  ["assignedRole", "Assigned role (expression)", "Only for lanes whose role is chosen per case"],
];

function extensionValues(bo) {
  return (bo.extensionElements && bo.extensionElements.values) || [];
}

function findChild(bo, type) {
  return extensionValues(bo).find((value) => is(value, type));
}

export function getProperty(bo, name) {
  const holder = findChild(bo, "spiffworkflow:Properties");
  const found = holder && (holder.properties || []).find((p) => p.name === name);
  return found ? found.value || "" : "";
}

function replaceExtensions(bo, moddle, change) {
  // A fresh ExtensionElements each time, so that one command (undoable) changes it.
  const values = extensionValues(bo).slice();
  change(values);
  const ext = moddle.create("bpmn:ExtensionElements", { values });
  values.forEach((value) => { value.$parent = ext; });
  return ext;
}

export function setPropertyExtensions(bo, moddle, name, value) {
  return replaceExtensions(bo, moddle, (values) => {
    const index = values.findIndex((v) => is(v, "spiffworkflow:Properties"));
    const old = index >= 0 ? values[index].properties || [] : [];
    const kept = old.filter((p) => p.name !== name)
      .map((p) => moddle.create("spiffworkflow:Property", { name: p.name, value: p.value }));
    if (value) {
      kept.push(moddle.create("spiffworkflow:Property", { name, value }));
    }
    const holder = moddle.create("spiffworkflow:Properties", { properties: kept });
    kept.forEach((p) => { p.$parent = holder; });
    if (index >= 0) { values.splice(index, 1); }
    if (kept.length) { values.push(holder); }
  });
}

function setInstructions(bo, moddle, text) {
  return replaceExtensions(bo, moddle, (values) => {
    const index = values.findIndex((v) => is(v, "spiffworkflow:InstructionsForEndUser"));
    if (index >= 0) { values.splice(index, 1); }
    if (text) { values.unshift(moddle.create("spiffworkflow:InstructionsForEndUser", { value: text })); }
  });
}

function PropertyEntry(props) {
  const { element, id, name, label, description } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  const debounce = useService("debounceInput");
  const bo = getBusinessObject(element);
  return h(TextFieldEntry, {
    element, id, label, description, debounce,
    getValue: () => getProperty(bo, name),
    setValue: (value) => modeling.updateProperties(element, {
      extensionElements: setPropertyExtensions(bo, moddle, name, (value || "").trim()),
    }),
  });
}

function InstructionsEntry(props) {
  const { element, id } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  const debounce = useService("debounceInput");
  const bo = getBusinessObject(element);
  return h(TextAreaEntry, {
    element, id, debounce, rows: 6, label: "Instructions for the worker (Markdown and Jinja)",
    getValue: () => { const found = findChild(bo, "spiffworkflow:InstructionsForEndUser"); return found ? found.value || "" : ""; },
    setValue: (value) => modeling.updateProperties(element, { extensionElements: setInstructions(bo, moddle, value) }),
  });
}

function AttributeEntry(props) {
  // A plain attribute of the element: a call activity's calledElement, a script task's script,
  // or the body of a sequence flow's condition (Python, evaluated by the restricted evaluator).
  const { element, id, label, description, read, write, multiline } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  const debounce = useService("debounceInput");
  const bo = getBusinessObject(element);
  return h(multiline ? TextAreaEntry : TextFieldEntry, {
    element, id, label, description, debounce, rows: multiline ? 6 : undefined,
    getValue: () => read(bo) || "",
    setValue: (value) => modeling.updateProperties(element, write(moddle, (value || "").trim())),
  });
}

const ATTRIBUTE_ENTRIES = [
  {
    id: "spiff-condition", applies: (element) => is(element, "bpmn:SequenceFlow") && element.source
      && (is(element.source, "bpmn:ExclusiveGateway") || is(element.source, "bpmn:InclusiveGateway")),
    label: "Condition (Python expression)", description: "For example route == 'assessment'; leave empty on the default flow",
    read: (bo) => bo.conditionExpression && bo.conditionExpression.body,
    write: (moddle, value) => ({ conditionExpression: value ? moddle.create("bpmn:FormalExpression", { body: value }) : undefined }),
  },
  {
    id: "spiff-calledElement", applies: (element) => is(element, "bpmn:CallActivity"),
    label: "Called process (process id)", description: "The id of a process in another diagram of this set",
    read: (bo) => bo.calledElement, write: (_moddle, value) => ({ calledElement: value || undefined }),
  },
  {
    id: "spiff-script", applies: (element) => is(element, "bpmn:ScriptTask"), multiline: true,
    label: "Script (Python)", description: "Assign whole top-level keys; no imports",
    read: (bo) => bo.script, write: (_moddle, value) => ({ script: value || undefined, scriptFormat: "python" }),
  },
];

function isTimer(element) {
  const bo = getBusinessObject(element);
  return is(element, "bpmn:Event") && (bo.eventDefinitions || []).some((d) => is(d, "bpmn:TimerEventDefinition"));
}

function entriesFor(element) {
  const entries = [];
  if (is(element, "bpmn:UserTask")) {
    TASK_PROPERTIES.forEach(([name, label, description]) => entries.push({
      id: `spiff-${name}`, component: PropertyEntry, isEdited: isTextFieldEntryEdited, name, label, description,
    }));
  }
  if (is(element, "bpmn:UserTask") || is(element, "bpmn:ManualTask")) {
    entries.push({ id: "spiff-instructions", component: InstructionsEntry, isEdited: isTextAreaEntryEdited });
  }
  ATTRIBUTE_ENTRIES.filter((entry) => entry.applies(element)).forEach((entry) => entries.push({
    ...entry, component: AttributeEntry, isEdited: entry.multiline ? isTextAreaEntryEdited : isTextFieldEntryEdited,
  }));
  if (isTimer(element)) {
    entries.push({
      id: "spiff-deadline", component: PropertyEntry, isEdited: isTextFieldEntryEdited, name: "deadline",
      label: "Statutory deadline it enforces", description: "A deadline key, for example icpc (else the id <key>_deadline)",
    });
  }
  return entries;
}

function SafeguardingProvider(propertiesPanel) {
  propertiesPanel.registerProvider(400, this);
}
SafeguardingProvider.$inject = ["propertiesPanel"];

SafeguardingProvider.prototype.getGroups = function (element) {
  return function (groups) {
    const entries = entriesFor(element);
    if (entries.length) {
      groups.splice(1, 0, { id: "safeguarding", label: "Safeguarding", entries });
    }
    return groups;
  };
};

export default { __init__: ["safeguardingPropertiesProvider"], safeguardingPropertiesProvider: ["type", SafeguardingProvider] };

// Starts GOV.UK Frontend's components (error summary focus, radios, header...). Pages work without it.
import { initAll } from "/vendor/govuk/govuk-frontend.min.js";
initAll();

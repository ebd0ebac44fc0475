import { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables, type McpUiHostContext } from '@modelcontextprotocol/ext-apps';
import { render } from 'preact';
import '../shared/base.css';
import './run-viewer.css';
import { Viewer, type ToolCall } from './viewer.js';

function applyHost(ctx: McpUiHostContext | undefined): void {
  if (ctx?.theme) applyDocumentTheme(ctx.theme);
  if (ctx?.styles?.variables) applyHostStyleVariables(ctx.styles.variables);
  if (ctx?.styles?.css?.fonts) applyHostFonts(ctx.styles.css.fonts);
}

/**
 * The run viewer, an MCP App: the host renders it for Capsule's run tools and passes the call's
 * arguments and result (ui/notifications/tool-input, tool-result). Everything else it needs it asks
 * for through the host's bridge (tools/call, resources/read), never over the network.
 */
const app = new App({ name: 'Capsule run viewer', version: '1.0.0' }, {}, { autoResize: true });
const call: ToolCall = { input: null, result: null, cancelled: null };
const root = document.getElementById('app')!;
const draw = () => render(<Viewer app={app} call={{ ...call }} toolName={app.getHostContext()?.toolInfo?.tool.name ?? null} />, root);

// Handlers first: the host may send the notifications right after the handshake.
app.ontoolinput = (p) => ((call.input = p.arguments ?? {}), draw());
app.ontoolresult = (r) => ((call.result = r), draw());
app.ontoolcancelled = (p) => ((call.cancelled = p.reason ?? 'cancelled'), draw());
app.onhostcontextchanged = (ctx) => applyHost({ ...app.getHostContext(), ...ctx });
app.onteardown = async () => ({});

draw();
app
  .connect()
  .then(() => {
    applyHost(app.getHostContext());
    draw();
  })
  .catch((err: unknown) => render(<p class="error">Could not connect to the host: {(err as Error).message}</p>, root));

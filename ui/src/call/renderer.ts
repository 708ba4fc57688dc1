// Draws I420 pictures on a canvas: WebGL (the GPU converts YUV to RGB; three single-channel
// textures per picture) when the webview has it, else a 2D canvas with the conversion in JS.
// The choice is made on the page (it probes the DOM); drawing works on a page canvas or on an
// OffscreenCanvas in the tile worker.
import { i420ToRgba, type Picture } from "./picture";

/** How pictures are drawn: "webgl" or "canvas" (named in `data-renderer` for tests). */
export type RendererKind = "webgl" | "canvas";

/** A canvas on the page or handed to the tile worker. */
export type Surface = HTMLCanvasElement | OffscreenCanvas;

export interface Renderer {
  /** "webgl" or "canvas", for diagnostics and tests. */
  readonly kind: RendererKind;
  draw(picture: Picture): void;
}

/** The 2D context calls the canvas renderer uses (page and offscreen contexts both have them). */
interface PixelContext {
  createImageData(width: number, height: number): ImageData;
  putImageData(image: ImageData, x: number, y: number): void;
}

const VERTEX = `
attribute vec2 position;
varying vec2 uv;
void main() {
  uv = vec2((position.x + 1.0) / 2.0, (1.0 - position.y) / 2.0);
  gl_Position = vec4(position, 0.0, 1.0);
}`;

// BT.601 limited range, as webcams and WebRTC encode.
const FRAGMENT = `
precision mediump float;
varying vec2 uv;
uniform sampler2D yPlane;
uniform sampler2D uPlane;
uniform sampler2D vPlane;
void main() {
  float y = 1.164 * (texture2D(yPlane, uv).r - 0.0625);
  float u = texture2D(uPlane, uv).r - 0.5;
  float v = texture2D(vPlane, uv).r - 0.5;
  gl_FragColor = vec4(y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u, 1.0);
}`;

function compile(gl: WebGLRenderingContext, type: number, source: string): WebGLShader | null {
  const shader = gl.createShader(type);
  if (!shader) return null;
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  return gl.getShaderParameter(shader, gl.COMPILE_STATUS) ? shader : null;
}

function webglRenderer(canvas: Surface): Renderer | null {
  const options = { preserveDrawingBuffer: true, antialias: false };
  const gl = (canvas as HTMLCanvasElement).getContext("webgl", options) as WebGLRenderingContext | null;
  if (!gl) return null;
  const vertex = compile(gl, gl.VERTEX_SHADER, VERTEX);
  const fragment = compile(gl, gl.FRAGMENT_SHADER, FRAGMENT);
  const program = gl.createProgram();
  if (!vertex || !fragment || !program) return null;
  gl.attachShader(program, vertex);
  gl.attachShader(program, fragment);
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) return null;
  gl.useProgram(program);
  const quad = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, quad);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const position = gl.getAttribLocation(program, "position");
  gl.enableVertexAttribArray(position);
  gl.vertexAttribPointer(position, 2, gl.FLOAT, false, 0, 0);
  gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  const textures = ["yPlane", "uPlane", "vPlane"].map((name, unit) => {
    const texture = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, texture);
    for (const parameter of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) {
      gl.texParameteri(gl.TEXTURE_2D, parameter, gl.CLAMP_TO_EDGE);
    }
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.uniform1i(gl.getUniformLocation(program, name), unit);
    return texture;
  });
  let allocated = false;
  return {
    kind: "webgl",
    draw({ width, height, data }) {
      if (canvas.width !== width || canvas.height !== height || !allocated) {
        canvas.width = width;
        canvas.height = height;
        allocated = false;
      }
      gl.viewport(0, 0, width, height);
      const chroma = (width >> 1) * (height >> 1);
      const planes = [
        { bytes: data.subarray(0, width * height), w: width, h: height },
        { bytes: data.subarray(width * height, width * height + chroma), w: width >> 1, h: height >> 1 },
        { bytes: data.subarray(width * height + chroma, width * height + 2 * chroma), w: width >> 1, h: height >> 1 },
      ];
      planes.forEach((plane, unit) => {
        gl.activeTexture(gl.TEXTURE0 + unit);
        gl.bindTexture(gl.TEXTURE_2D, textures[unit]);
        // Allocate once per size, then only upload.
        if (allocated) {
          gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, plane.w, plane.h, gl.LUMINANCE, gl.UNSIGNED_BYTE, plane.bytes);
        } else {
          gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, plane.w, plane.h, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, plane.bytes);
        }
      });
      allocated = true;
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    },
  };
}

function canvasRenderer(canvas: Surface): Renderer | null {
  const context = (canvas as HTMLCanvasElement).getContext("2d") as PixelContext | null;
  if (!context) return null;
  let image: ImageData | null = null;
  return {
    kind: "canvas",
    draw(picture) {
      if (canvas.width !== picture.width || canvas.height !== picture.height || !image) {
        canvas.width = picture.width;
        canvas.height = picture.height;
        image = context.createImageData(picture.width, picture.height);
      }
      i420ToRgba(picture, image.data);
      context.putImageData(image, 0, 0);
    },
  };
}

/** Whether a GL renderer name is a CPU rasteriser (Mesa's llvmpipe/softpipe, SwiftShader). */
export function isSoftwareGl(rendererName: string): boolean {
  return /llvmpipe|softpipe|swiftshader|software/i.test(rendererName);
}

let softwareGl: boolean | null = null;
let preferred: "canvas" | "auto" = "auto";

/** What the backend prefers (asked once at start-up; see `preferred_renderer`). */
export function setPreferredRenderer(choice: "canvas" | "auto") {
  preferred = choice;
}

/** Whether this webview's WebGL runs on the CPU (probed once, on a scratch canvas). */
function webglIsSoftware(): boolean {
  if (softwareGl === null) {
    const gl = document.createElement("canvas").getContext("webgl");
    const info = gl?.getExtension("WEBGL_debug_renderer_info");
    const name = gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
    softwareGl = isSoftwareGl(name);
    gl?.getExtension("WEBGL_lose_context")?.loseContext();
  }
  return softwareGl;
}

/**
 * WebGL on a GPU; the 2D canvas when WebGL is missing, runs on the CPU, or the backend
 * says the window paints in software (measured on a 2-core machine without a GPU: four
 * 640x360 tiles drew 10 pictures/s each with WebGL and 22 with the 2D canvas).
 * `?renderer=canvas` or `?renderer=webgl` forces one. Runs on the page (probes the DOM).
 */
export function chooseRendererKind(): RendererKind {
  const forced = new URLSearchParams(window.location.search).get("renderer") ?? (preferred === "canvas" ? "canvas" : null);
  return forced === "webgl" || (forced !== "canvas" && !webglIsSoftware()) ? "webgl" : "canvas";
}

/** A renderer of `kind` on `canvas`, the 2D canvas if WebGL cannot start there. */
export function rendererOfKind(canvas: Surface, kind: RendererKind): Renderer | null {
  return (kind === "webgl" ? webglRenderer(canvas) : null) ?? canvasRenderer(canvas);
}

/** The renderer [`chooseRendererKind`] picks, on a page canvas. */
export function createRenderer(canvas: HTMLCanvasElement): Renderer | null {
  return rendererOfKind(canvas, chooseRendererKind());
}

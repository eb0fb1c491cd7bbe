// Stand-in for xmlbuilder2 (~475 KiB minified). vtk.js needs it only for its XML readers and
// writers, which Cornerstone reaches only when loading 3D surface meshes or using
// OrientationMarkerTool; RadViewer does neither. Fail loudly if that ever changes.
export function create() {
  throw new Error('RadViewer: xmlbuilder2 is not bundled (vtk.js XML I/O is unavailable); see static/viewer/build.mjs');
}
export default { create };

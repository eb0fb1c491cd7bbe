// In-memory image loader and metadata provider for RadViewer.
//
// Images arrive as plain objects ({width, height, pixelData, ...}, see README/VIEWER.md).
// Each one is registered under an imageId "radviewer:<n>"; the metadata provider answers
// synchronously from the same record, so Cornerstone can lay out a stack before any pixel
// is decoded, and the image loader resolves at once from memory.
import { cache, imageLoader, metaData, utilities } from '@cornerstonejs/core';

export const SCHEME = 'radviewer';
const records = new Map(); // imageId -> normalised record
let counter = 0;
let registered = false;
const frameOfReferenceUID = '1.2.826.0.1.3680043.10.1219.1'; // one synthetic frame per page
let seriesCounter = 0;

export function newSeriesUID() {
  seriesCounter += 1;
  return `${frameOfReferenceUID}.${seriesCounter}`;
}

function fail(msg) {
  throw new TypeError(`RadViewer: ${msg}`);
}

function finiteOr(v, dflt) {
  const n = Number(v);
  return v === undefined || v === null || !Number.isFinite(n) ? dflt : n;
}

// Apply the modality LUT once, up front: the GPU path of Cornerstone's StackViewport windows
// the stored scalars directly, so they must already be in output units (e.g. HU).
function rescale(pixelData, slope, intercept) {
  if (slope === 1 && intercept === 0) return pixelData;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < pixelData.length; i++) {
    const v = pixelData[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const a = min * slope + intercept;
  const b = max * slope + intercept;
  const integral = Number.isInteger(slope) && Number.isInteger(intercept);
  const Out = integral && Math.min(a, b) >= -32768 && Math.max(a, b) <= 32767 ? Int16Array : Float32Array;
  const out = new Out(pixelData.length);
  for (let i = 0; i < pixelData.length; i++) out[i] = pixelData[i] * slope + intercept;
  return out;
}

function minMax(arr) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return [0, 0];
  return [min, max];
}

/** Validate and normalise a caller's image object. Throws TypeError with a clear message. */
export function normalise(img) {
  if (!img || typeof img !== 'object') fail('image must be an object');
  const width = img.width | 0;
  const height = img.height | 0;
  if (width <= 0 || height <= 0) fail(`bad image size ${img.width}x${img.height}`);
  const photometric = img.photometric || 'MONOCHROME2';
  if (photometric !== 'MONOCHROME2' && photometric !== 'RGB') {
    fail(`photometric must be 'MONOCHROME2' or 'RGB', got ${JSON.stringify(photometric)}`);
  }
  const px = img.pixelData;
  const okType = px instanceof Uint16Array || px instanceof Int16Array || px instanceof Uint8Array || px instanceof Float32Array;
  if (!okType) fail('pixelData must be a Uint16Array, Int16Array or Uint8Array');
  const components = photometric === 'RGB' ? 3 : 1;
  if (components === 3 && !(px instanceof Uint8Array)) fail('RGB pixelData must be a Uint8Array (r,g,b interleaved)');
  if (px.length !== width * height * components) {
    fail(`pixelData has ${px.length} values, expected ${width}x${height}x${components} = ${width * height * components}`);
  }
  const slope = components === 1 ? finiteOr(img.rescaleSlope, 1) : 1;
  const intercept = components === 1 ? finiteOr(img.rescaleIntercept, 0) : 0;
  const scalars = components === 1 ? rescale(px, slope, intercept) : px;
  const [min, max] = components === 1 ? minMax(scalars) : [0, 255];
  let ww = finiteOr(img.windowWidth, NaN);
  let wc = finiteOr(img.windowCenter, NaN);
  if (!(ww > 0) || !Number.isFinite(wc)) {
    // No usable default window: span the data (what a reader would do first).
    ww = Math.max(1, max - min);
    wc = min + ww / 2;
  }
  return {
    width,
    height,
    components,
    photometric,
    scalars,
    min,
    max,
    slope,
    intercept,
    windowWidth: ww,
    windowCenter: wc,
    rowPixelSpacing: finiteOr(img.rowPixelSpacing, 1) || 1,
    columnPixelSpacing: finiteOr(img.columnPixelSpacing, 1) || 1,
    sliceThickness: finiteOr(img.sliceThickness, 1) || 1,
    label: img.label == null ? '' : String(img.label),
    modality: typeof img.modality === 'string' ? img.modality : components === 1 && px instanceof Int16Array ? 'CT' : 'OT',
    frameRate: finiteOr(img.frameRate, 0),
    // set by the viewer when the image joins a series
    seriesInstanceUID: '',
    sliceIndex: 0,
  };
}

/** Register a normalised record; returns its imageId. */
export function addRecord(rec, seriesInstanceUID, sliceIndex) {
  counter += 1;
  const imageId = `${SCHEME}:${counter}`;
  rec.seriesInstanceUID = seriesInstanceUID;
  rec.sliceIndex = sliceIndex;
  records.set(imageId, rec);
  return imageId;
}

export function getRecord(imageId) {
  return records.get(imageId);
}

/** Forget images (viewer destroyed or showing something else) and drop them from Cornerstone's cache. */
export function releaseImages(imageIds) {
  for (const id of imageIds) {
    records.delete(id);
    try {
      if (cache.getImageLoadObject(id)) cache.removeImageLoadObject(id, { force: true });
    } catch (e) {
      /* already gone */
    }
  }
}

function bits(arr) {
  if (arr instanceof Uint8Array) return [8, 8, 7, 0];
  if (arr instanceof Uint16Array) return [16, 16, 15, 0];
  if (arr instanceof Int16Array) return [16, 16, 15, 1];
  return [32, 32, 31, 1];
}

function metadataProvider(type, imageId) {
  if (typeof imageId !== 'string' || !imageId.startsWith(`${SCHEME}:`)) return undefined;
  const r = records.get(imageId);
  if (!r) return undefined;
  switch (type) {
    case 'imagePixelModule': {
      const [bitsAllocated, bitsStored, highBit, pixelRepresentation] = bits(r.scalars);
      return {
        samplesPerPixel: r.components,
        photometricInterpretation: r.photometric,
        rows: r.height,
        columns: r.width,
        bitsAllocated,
        bitsStored,
        highBit,
        pixelRepresentation,
        planarConfiguration: 0,
      };
    }
    case 'imagePlaneModule':
      return {
        frameOfReferenceUID,
        rows: r.height,
        columns: r.width,
        imageOrientationPatient: [1, 0, 0, 0, 1, 0],
        rowCosines: [1, 0, 0],
        columnCosines: [0, 1, 0],
        imagePositionPatient: [0, 0, r.sliceIndex * r.sliceThickness],
        sliceThickness: r.sliceThickness,
        sliceLocation: r.sliceIndex * r.sliceThickness,
        pixelSpacing: [r.rowPixelSpacing, r.columnPixelSpacing],
        rowPixelSpacing: r.rowPixelSpacing,
        columnPixelSpacing: r.columnPixelSpacing,
        usingDefaultValues: false,
      };
    case 'generalSeriesModule':
      return { modality: r.modality, seriesInstanceUID: r.seriesInstanceUID, seriesNumber: 1 };
    case 'generalImageModule':
      return { instanceNumber: r.sliceIndex + 1 };
    case 'voiLutModule':
      return { windowCenter: [r.windowCenter], windowWidth: [r.windowWidth], voiLUTFunction: 'LINEAR' };
    case 'modalityLutModule':
      // Pixel data handed to Cornerstone are already rescaled (see rescale()).
      return { rescaleSlope: 1, rescaleIntercept: 0 };
    case 'sopCommonModule':
      return { sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: `${r.seriesInstanceUID}.${r.sliceIndex + 1}` };
    default:
      return undefined;
  }
}

function makeImage(imageId) {
  const r = records.get(imageId);
  if (!r) throw new Error(`RadViewer: unknown image ${imageId}`);
  const { VoxelManager } = utilities;
  const voxelManager = VoxelManager.createImageVoxelManager({
    width: r.width,
    height: r.height,
    numberOfComponents: r.components,
    scalarData: r.scalars,
    id: imageId,
  });
  const rescaled = r.slope !== 1 || r.intercept !== 0;
  return {
    imageId,
    minPixelValue: r.min,
    maxPixelValue: r.max,
    slope: 1,
    intercept: 0,
    windowCenter: r.windowCenter,
    windowWidth: r.windowWidth,
    voiLUTFunction: 'LINEAR',
    getPixelData: () => voxelManager.getScalarData(),
    getCanvas: undefined,
    rows: r.height,
    columns: r.width,
    height: r.height,
    width: r.width,
    color: r.components === 3,
    rgba: false,
    numberOfComponents: r.components,
    columnPixelSpacing: r.columnPixelSpacing,
    rowPixelSpacing: r.rowPixelSpacing,
    sliceThickness: r.sliceThickness,
    invert: false,
    photometricInterpretation: r.photometric,
    sizeInBytes: r.scalars.byteLength,
    dataType: r.scalars.constructor.name,
    FrameOfReferenceUID: frameOfReferenceUID,
    voxelManager,
    imageFrame: { pixelData: r.scalars },
    preScale: rescaled
      ? { enabled: true, scaled: true, scalingParameters: { modality: r.modality, rescaleSlope: r.slope, rescaleIntercept: r.intercept } }
      : { enabled: false, scaled: false },
  };
}

function loadImage(imageId) {
  return {
    promise: new Promise((resolve, reject) => {
      try {
        resolve(makeImage(imageId));
      } catch (e) {
        reject(e);
      }
    }),
    cancelFn: undefined,
  };
}

export function registerLoaderOnce() {
  if (registered) return;
  registered = true;
  imageLoader.registerImageLoader(SCHEME, loadImage);
  // High priority so no other provider answers for our ids first.
  metaData.addProvider(metadataProvider, 10000);
}

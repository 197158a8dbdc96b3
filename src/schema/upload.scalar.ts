/**
 * `Upload`: an image sent as a file part of a multipart request (the GraphQL multipart request
 * spec; input/upload.ts puts the parsed UploadedFile where the operation had null). It has no
 * JSON form: in a JSON request, or written into the query, it is refused with BAD_USER_INPUT.
 */
import { GraphQLError, GraphQLScalarType } from 'graphql';
import { UploadedFile } from '../input/upload';

export const UploadScalar = new GraphQLScalarType<UploadedFile, never>({
  name: 'Upload',
  description:
    'A file part of a multipart/form-data request (the GraphQL multipart request spec): the variable holds null in `operations` and `map` names the part that fills it. Send the header apollo-require-preflight: true with it.',
  parseValue(value) {
    if (value instanceof UploadedFile) return value;
    throw new GraphQLError('Upload values come only from the file parts of a multipart request; in JSON, send the image as base64 or url');
  },
  parseLiteral() {
    throw new GraphQLError('Upload cannot be written in the query: pass it as a variable of a multipart request');
  },
  serialize() {
    throw new GraphQLError('Upload is an input-only scalar');
  },
});

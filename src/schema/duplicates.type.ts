/**
 * The near-duplicate types of the schema: groups of a collection's items whose embeddings are
 * within a cosine threshold (src/store/duplicates.ts finds them; resolvers/duplicates.resolver.ts
 * serves them).
 */
import 'reflect-metadata';
import { Field, Float, Int, ObjectType } from 'type-graphql';
import { StoredItem } from './collection.type';

@ObjectType({ simpleResolvers: true, description: 'One item of a near-duplicate group.' })
export class DuplicateItem extends StoredItem {
  @Field(() => Float, { description: "Cosine similarity of its embedding to the group's first item's (1 for that item)." })
  score!: number;

  @Field({ description: 'Another item of the group has the same bytes (sha256): an exact byte duplicate.' })
  sameBytes!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'Items whose embeddings are within the threshold of each other (a connected component: copies of copies join one group).' })
export class DuplicateGroup {
  @Field(() => [DuplicateItem], { description: "The group's smallest id first, then the others by cosine to it, best first." })
  items!: DuplicateItem[];

  @Field({ description: 'Every item has the same bytes (sha256).' })
  identical!: boolean;

  @Field({ description: 'False when the group reached 200 items and was cut there (a threshold too low for this model).' })
  complete!: boolean;
}

@ObjectType({ simpleResolvers: true, description: "A page of near-duplicate groups: the walk through the collection's items in id order goes on after endCursor." })
export class DuplicatePage {
  @Field()
  collection!: string;

  @Field(() => Float, { description: 'The cosine threshold this page ran with.' })
  threshold!: number;

  @Field(() => [DuplicateGroup], { description: 'Each group is reported once, on the page that walks its smallest id.' })
  groups!: DuplicateGroup[];

  @Field(() => Int, { description: 'Items this page walked (at most `scan`).' })
  scanned!: number;

  @Field({ description: 'True while items remain to walk: pass endCursor as `after` (a page may hold no group and still have a next one).' })
  hasNextPage!: boolean;

  @Field({ nullable: true, description: 'Where the next page starts (the last item walked); null at the end.' })
  endCursor?: string;
}

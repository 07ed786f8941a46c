// Reads a VCF through its Tribble .idx with htsjdk, as GATK's FeatureDataSource does, for
// tests/test_io_tribble_index.py.
// Usage: java -cp htsjdk.jar TribbleQuery.java VCF OWN_INDEX [CONTIG:START-END ...]
// Prints the index's version check and properties, then for each interval the records htsjdk's
// indexed query returns (CONTIG:POS), one line per interval; writes under OWN_INDEX the index
// htsjdk itself makes of VCF, as GATK's writer chooses it (linear or tree, for seek time).
import htsjdk.tribble.AbstractFeatureReader;
import htsjdk.tribble.CloseableTribbleIterator;
import htsjdk.tribble.index.Index;
import htsjdk.tribble.index.IndexFactory;
import htsjdk.tribble.util.LittleEndianOutputStream;
import htsjdk.variant.variantcontext.VariantContext;
import htsjdk.variant.vcf.VCFCodec;
import java.io.File;
import java.io.FileOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class TribbleQuery {
    public static void main(String[] args) throws Exception {
        final String vcf = args[0];
        final Index index = IndexFactory.loadIndex(vcf + ".idx");
        System.out.println("current\t" + index.isCurrentVersion());
        System.out.println("contigs\t" + String.join(",", index.getSequenceNames()));
        for (Map.Entry<String, String> property : index.getProperties().entrySet()) {
            System.out.println("property\t" + property.getKey() + "=" + property.getValue());
        }
        final Index own = IndexFactory.createDynamicIndex(
                new File(vcf), new VCFCodec(), IndexFactory.IndexBalanceApproach.FOR_SEEK_TIME);
        try (LittleEndianOutputStream out = new LittleEndianOutputStream(new FileOutputStream(args[1]))) {
            own.write(out);
        }
        try (AbstractFeatureReader<VariantContext, ?> reader =
                AbstractFeatureReader.getFeatureReader(vcf, new VCFCodec(), true)) {
            System.out.println("indexed\t" + reader.hasIndex());
            for (int i = 2; i < args.length; i++) {
                final String[] parts = args[i].split("[:-]");
                final List<String> found = new ArrayList<>();
                try (CloseableTribbleIterator<VariantContext> records = reader.query(
                        parts[0], Integer.parseInt(parts[1]), Integer.parseInt(parts[2]))) {
                    for (VariantContext record : records) {
                        found.add(record.getContig() + ":" + record.getStart());
                    }
                }
                System.out.println("query\t" + args[i] + "\t" + String.join(",", found));
            }
        }
    }
}
